/**
 * Clients an administrator registers: first-party apps (the portal), confidential apps, and
 * backend services (client_credentials with private_key_jwt and system/ scopes), which open
 * registration does not allow.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { knexAdapterFactory } from '@patient-access/auth-server';
import type { Database } from '@patient-access/consent';
import { AdminError } from './accounts.js';

export interface RegisterClientOptions {
  name: string;
  redirectUris: string[];
  launchUri?: string;
  /** none (public, PKCE), secret (client_secret_basic) or jwks (private_key_jwt). */
  auth: 'none' | 'secret' | 'jwks';
  jwksFile?: string;
  /** Public keys given directly instead of a file (the demo's backend service). */
  jwks?: { keys: Record<string, unknown>[] };
  backend?: boolean;
}

export async function registerClient(db: Database, o: RegisterClientOptions): Promise<{ clientId: string; clientSecret?: string }> {
  if (!o.name.trim()) throw new AdminError('--name is required');
  if (o.backend && o.auth !== 'jwks') throw new AdminError('a backend service authenticates with private_key_jwt: give --jwks-file');
  if (!o.backend && o.redirectUris.length === 0) throw new AdminError('give at least one --redirect-uri');
  for (const uri of [...o.redirectUris, ...(o.launchUri ? [o.launchUri] : [])]) {
    if (!URL.canParse(uri) || uri.includes('*')) throw new AdminError(`"${uri}" is not an exact absolute URI`);
  }
  let jwks: unknown;
  if (o.auth === 'jwks') {
    if (!o.jwksFile && !o.jwks) throw new AdminError('--jwks-file is required for private_key_jwt');
    jwks = o.jwks ?? (JSON.parse(await readFile(o.jwksFile!, 'utf8')) as unknown);
    const source = o.jwksFile ?? 'the JWKS';
    const keys = (jwks as { keys?: { d?: unknown }[] }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new AdminError(`${source} has no keys`);
    if (keys.some((k) => k.d !== undefined)) throw new AdminError(`${source} contains a private key: register the public keys only`);
  }
  const clientId = randomBytes(16).toString('base64url');
  const clientSecret = o.auth === 'secret' ? randomBytes(32).toString('base64url') : undefined;
  const metadata: Record<string, unknown> = {
    client_id: clientId,
    client_name: o.name,
    client_id_issued_at: Math.floor(Date.now() / 1000),
    redirect_uris: o.backend ? [] : o.redirectUris,
    grant_types: o.backend ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    response_types: o.backend ? [] : ['code'],
    token_endpoint_auth_method: o.auth === 'none' ? 'none' : o.auth === 'secret' ? 'client_secret_basic' : 'private_key_jwt',
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    ...(jwks ? { jwks } : {}),
    ...(o.launchUri ? { launch_uri: o.launchUri } : {}),
  };
  await knexAdapterFactory(db)('Client').upsert(clientId, metadata as never, 0);
  return { clientId, ...(clientSecret ? { clientSecret } : {}) };
}
