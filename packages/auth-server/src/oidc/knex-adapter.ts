/**
 * oidc-provider's storage adapter on our database (PGlite or PostgreSQL through knex), so
 * sessions, codes, refresh tokens, grants and registered clients survive restarts and are shared
 * by every instance. Expired rows are ignored on read and removed by `purgeExpired`.
 *
 * The provider's Grant and our app grant (same id) are one authorization: the provider's Grant is
 * found only while the app grant is in force (so introspection, refresh and code exchange consult
 * it), and every grant revocation the provider performs (code or refresh token reuse, revocation,
 * logout) revokes the app grant in the same transaction (API-3, PRX-6).
 */
import type { Knex } from 'knex';
import Provider, { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { authorizationInForce, revokeAppGrant } from '@patient-access/consent';

// Models whose rows are bound to a grant, so revoking the grant can delete them all.
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Grant']);

interface PayloadRow {
  payload: AdapterPayload | string;
  expires_at: Date | string | null;
  consumed_at: Date | string | null;
}

export interface KnexAdapterOptions {
  /** The clock for grant checks (delegation windows); tests inject theirs. */
  now?: () => Date;
}

export function knexAdapterFactory(db: Knex, options: KnexAdapterOptions = {}): (name: string) => Adapter {
  const now = options.now ?? (() => new Date());
  return (name: string) => new KnexAdapter(db, name, now);
}

/** PostgreSQL text cannot hold NUL: a lookup by such a value finds nothing rather than failing. */
const hasNul = (s: string) => s.includes('\u0000');

/** Why the provider is revoking a grant, from the request it is handling (for the app grant's status_reason). */
function revocationReason(): string {
  const ctx = (Provider as unknown as { ctx?: KoaContextWithOIDC }).ctx;
  const route = ctx?.oidc?.route;
  if (route === 'token') return ctx?.oidc?.params?.['grant_type'] === 'refresh_token' ? 'refresh token reused' : 'authorization code reused';
  if (route === 'revocation') return 'token revoked by the client';
  if (route === 'end_session') return 'signed out';
  return 'revoked by the authorization server';
}

class KnexAdapter implements Adapter {
  constructor(
    private readonly db: Knex,
    private readonly kind: string,
    private readonly now: () => Date,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const json = JSON.stringify(payload);
    // jsonb refuses \u0000: a value with NUL is bad input (4xx), never a database error (500).
    if (json.includes('\\u0000')) {
      throw this.kind === 'Client' ? new errors.InvalidClientMetadata('metadata must not contain NUL characters') : new errors.InvalidRequest('request parameters must not contain NUL characters');
    }
    const row = {
      kind: this.kind,
      id,
      payload: json,
      grant_id: GRANTABLE.has(this.kind) ? (payload.grantId ?? null) : null,
      uid: payload.uid ?? null,
      user_code: payload.userCode ?? null,
      expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    await this.db('oidc_payload').insert(row).onConflict(['kind', 'id']).merge(['payload', 'grant_id', 'uid', 'user_code', 'expires_at']);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (hasNul(id)) return undefined;
    const payload = await this.first({ kind: this.kind, id });
    // A Grant whose app grant was revoked (every patient's, for a user-level one), or whose account or delegation ended, no longer exists
    // for the provider: its refresh tokens introspect inactive and cannot be used (PRX-6, API-3).
    if (payload && this.kind === 'Grant' && 'denied' in (await authorizationInForce(this.db, id, this.now()))) return undefined;
    return payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return hasNul(uid) ? undefined : this.first({ kind: this.kind, uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return hasNul(userCode) ? undefined : this.first({ kind: this.kind, user_code: userCode });
  }

  async consume(id: string): Promise<void> {
    if (hasNul(id)) return;
    await this.db('oidc_payload').where({ kind: this.kind, id }).update({ consumed_at: new Date() });
  }

  async destroy(id: string): Promise<void> {
    if (hasNul(id)) return;
    await this.db('oidc_payload').where({ kind: this.kind, id }).delete();
  }

  /** Called by the provider whenever it revokes a grant: the app grant ends with its tokens. */
  async revokeByGrantId(grantId: string): Promise<void> {
    if (hasNul(grantId)) return;
    const reason = revocationReason();
    await this.db.transaction(async (trx) => {
      // The app_grant update moves the patient's access epoch (trigger), so FHIR requests already
      // in flight with this grant's tokens are refused too.
      await revokeAppGrant(trx, grantId, reason, this.now());
      // The Grant row itself has no grant_id column value: it is keyed by the grant id.
      await trx('oidc_payload').where({ grant_id: grantId }).orWhere({ kind: 'Grant', id: grantId }).delete();
    });
  }

  private async first(where: Record<string, string>): Promise<AdapterPayload | undefined> {
    const row = (await this.db('oidc_payload').where(where).first('payload', 'expires_at', 'consumed_at')) as PayloadRow | undefined;
    if (!row) return undefined;
    if (row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now()) return undefined;
    const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload;
    return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) };
  }
}

/**
 * Adds the narrowed resource scopes to every refresh token of a grant (the person narrowed the
 * app's access on the connected-apps page). The provider issues on refresh only scopes named by
 * both the refresh token and the Grant, by exact string: a category scope chosen there (API-4)
 * must be named by the token too, or the app loses the data it was left. What is issued stays
 * bounded by the (narrowed) Grant: the token's older, wider names give nothing more.
 */
export async function addRefreshTokenScopes(db: Knex, grantId: string, resourceScopes: readonly string[]): Promise<number> {
  return db.transaction(async (trx) => {
    const rows = (await trx('oidc_payload').where({ kind: 'RefreshToken', grant_id: grantId }).forUpdate().select('id', 'payload')) as { id: string; payload: AdapterPayload | string }[];
    for (const row of rows) {
      const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload;
      const scopes = new Set(String(payload.scope ?? '').split(' ').filter(Boolean));
      for (const s of resourceScopes) scopes.add(s);
      await trx('oidc_payload').where({ kind: 'RefreshToken', id: row.id }).update({ payload: JSON.stringify({ ...payload, scope: [...scopes].join(' ') }) });
    }
    return rows.length;
  });
}

/** Deletes expired artifacts; run periodically (rows are already ignored once expired). */
export async function purgeExpired(db: Knex, at = new Date()): Promise<number> {
  return db('oidc_payload').where('expires_at', '<=', at).delete();
}
