/**
 * Signing keys, kept in the database so they survive restarts and every instance signs with the
 * same key. Rotation publishes a new key before it signs (JWKS caches pick it up first) and keeps
 * a retired key published until every token it signed has expired.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Knex } from 'knex';

export const SIGNING_ALG = 'RS256';

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK | string;
  signs_from: Date | string;
  retire_after: Date | string | null;
}

async function newKey(db: Knex, signsFrom: Date): Promise<void> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { modulusLength: 2048, extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' };
  await db('signing_key').insert({ kid, alg: SIGNING_ALG, private_jwk: JSON.stringify(jwk), signs_from: signsFrom });
}

/**
 * The keys to hand to oidc-provider at `at`: the signing key first (oidc-provider signs with the
 * first key of an algorithm), then keys that are published but not (or no longer) signing.
 * Creates the first key on a fresh database.
 */
export async function loadSigningKeys(db: Knex, at = new Date()): Promise<JWK[]> {
  let rows = await publishedKeys(db, at);
  if (!rows.some((r) => new Date(r.signs_from) <= at)) {
    await newKey(db, at);
    rows = await publishedKeys(db, at);
  }
  const signing = rows.filter((r) => new Date(r.signs_from) <= at).sort((a, b) => +new Date(b.signs_from) - +new Date(a.signs_from));
  const pending = rows.filter((r) => new Date(r.signs_from) > at);
  return [...signing, ...pending].map((r) => (typeof r.private_jwk === 'string' ? (JSON.parse(r.private_jwk) as JWK) : r.private_jwk));
}

async function publishedKeys(db: Knex, at: Date): Promise<KeyRow[]> {
  return (await db('signing_key').where((q) => q.whereNull('retire_after').orWhere('retire_after', '>', at))) as KeyRow[];
}

/**
 * Adds a key that starts signing after `publishFor` and retires the current signing key once
 * the tokens it signed can no longer be valid (`maxTokenLifetimeSeconds` after the switch).
 */
export async function rotateSigningKey(db: Knex, { at = new Date(), publishForSeconds = 86_400, maxTokenLifetimeSeconds = 3_600 } = {}): Promise<void> {
  const switchAt = new Date(at.getTime() + publishForSeconds * 1000);
  await db.transaction(async (trx) => {
    await trx('signing_key')
      .whereNull('retire_after')
      .where('signs_from', '<=', at)
      .update({ retire_after: new Date(switchAt.getTime() + maxTokenLifetimeSeconds * 1000) });
    await newKey(trx, switchAt);
  });
}

/** A random secret generated once per deployment and kept in the database (cookie signing keys). */
export async function serverSecret(db: Knex, name: string): Promise<string> {
  const existing = (await db('server_secret').where({ name }).first('value')) as { value: string } | undefined;
  if (existing) return existing.value;
  const value = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  await db('server_secret').insert({ name, value }).onConflict('name').ignore();
  return ((await db('server_secret').where({ name }).first('value')) as { value: string }).value;
}

const PRIVATE_JWK_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/**
 * A jose key resolver over the published keys, re-read from the database at most every
 * `refreshMs` (and at once when a token names an unknown kid), so a rotated key verifies as
 * soon as it is published. The FHIR API verifies tokens with it when it shares the database.
 */
export function publishedKeyResolver(db: Knex, refreshMs = 60_000): JWTVerifyGetKey {
  let loaded = 0;
  let resolver: JWTVerifyGetKey | undefined;
  let kids = new Set<string>();
  const reload = async () => {
    const keys = (await loadSigningKeys(db)).map((k) => {
      const pub: Record<string, unknown> = { ...k };
      for (const f of PRIVATE_JWK_FIELDS) delete pub[f];
      return pub as JWK;
    });
    kids = new Set(keys.map((k) => String(k.kid)));
    resolver = createLocalJWKSet({ keys });
    loaded = Date.now();
  };
  return async (header, token) => {
    const stale = Date.now() - loaded > refreshMs;
    const unknownKid = header.kid !== undefined && !kids.has(header.kid) && Date.now() - loaded > 1000;
    if (!resolver || stale || unknownKid) await reload();
    return resolver!(header, token);
  };
}

/** The kids in the order oidc-provider would get them now: when this changes, rebuild the provider. */
export async function signingKeyFingerprint(db: Knex, at = new Date()): Promise<string> {
  return (await loadSigningKeys(db, at)).map((k) => k.kid).join(',');
}
