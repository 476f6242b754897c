/**
 * oidc-provider's storage adapter on our database (PGlite or PostgreSQL through knex), so
 * sessions, codes, refresh tokens, grants and registered clients survive restarts and are shared
 * by every instance. Expired rows are ignored on read and removed by `purgeExpired`.
 */
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';

// Models whose rows are bound to a grant, so revoking the grant can delete them all.
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Grant']);

interface PayloadRow {
  payload: AdapterPayload | string;
  expires_at: Date | string | null;
  consumed_at: Date | string | null;
}

export function knexAdapterFactory(db: Knex): (name: string) => Adapter {
  return (name: string) => new KnexAdapter(db, name);
}

class KnexAdapter implements Adapter {
  constructor(
    private readonly db: Knex,
    private readonly kind: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const row = {
      kind: this.kind,
      id,
      payload: JSON.stringify(payload),
      grant_id: GRANTABLE.has(this.kind) ? (payload.grantId ?? null) : null,
      uid: payload.uid ?? null,
      user_code: payload.userCode ?? null,
      expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    await this.db('oidc_payload').insert(row).onConflict(['kind', 'id']).merge(['payload', 'grant_id', 'uid', 'user_code', 'expires_at']);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.first({ kind: this.kind, id });
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.first({ kind: this.kind, uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.first({ kind: this.kind, user_code: userCode });
  }

  async consume(id: string): Promise<void> {
    await this.db('oidc_payload').where({ kind: this.kind, id }).update({ consumed_at: new Date() });
  }

  async destroy(id: string): Promise<void> {
    await this.db('oidc_payload').where({ kind: this.kind, id }).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db('oidc_payload').where({ grant_id: grantId }).delete();
  }

  private async first(where: Record<string, string>): Promise<AdapterPayload | undefined> {
    const row = (await this.db('oidc_payload').where(where).first('payload', 'expires_at', 'consumed_at')) as PayloadRow | undefined;
    if (!row) return undefined;
    if (row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now()) return undefined;
    const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload;
    return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) };
  }
}

/** Deletes expired artifacts; run periodically (rows are already ignored once expired). */
export async function purgeExpired(db: Knex, at = new Date()): Promise<number> {
  return db('oidc_payload').where('expires_at', '<=', at).delete();
}
