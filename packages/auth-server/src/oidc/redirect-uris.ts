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

/**
 * `launch_uri` (SMART EHR launch) follows the redirect_uris rules for web apps: https, or http on
 * a loopback address. It is shown on every person's launch page and opened with a launch value,
 * so any other scheme (javascript:, data:, plain http to the network) is refused.
 */
export function launchUriProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return 'launch_uri must be a string';
  const parsed = URL.parse(value);
  if (!parsed) return 'launch_uri must be an absolute URL';
  if (parsed.username || parsed.password) return 'launch_uri must not contain credentials';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname)) return undefined;
  return 'launch_uri must use https (http is allowed only for loopback addresses)';
}

export function validateLaunchUri(metadata: Record<string, unknown>): void {
  const problem = launchUriProblem(metadata['launch_uri']);
  if (problem) throw new errors.InvalidClientMetadata(problem);
}
