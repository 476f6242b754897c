/**
 * Redirect URI rules for open registration: exact URIs only (no wildcards), https for web apps
 * except loopback addresses, and for native apps loopback http or a private-use scheme.
 */
import { errors } from 'oidc-provider';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function validateRedirectUris(metadata: { redirect_uris?: unknown; application_type?: unknown }): void {
  const uris = Array.isArray(metadata.redirect_uris) ? (metadata.redirect_uris as unknown[]) : [];
  for (const uri of uris) {
    if (typeof uri !== 'string') continue;
    if (uri.includes('*')) throw new errors.InvalidClientMetadata('redirect_uris must be exact URIs: wildcards are not allowed');
    const parsed = URL.parse(uri);
    if (!parsed) continue;
    const loopback = LOOPBACK.has(parsed.hostname);
    if (metadata.application_type !== 'native' && parsed.protocol === 'http:' && !loopback) {
      throw new errors.InvalidClientMetadata('redirect_uris must use https (http is allowed only for loopback addresses)');
    }
  }
}
