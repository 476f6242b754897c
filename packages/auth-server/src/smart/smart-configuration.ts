/**
 * The SMART App Launch 2.2 discovery document (`.well-known/smart-configuration`), served by the
 * authorization server and, identically, at the FHIR base. Advertises only what works here.
 */
import type { AppConfig } from '@patient-access/consent';
import { SUPPORTED_SCOPES } from './smart-scopes.js';

export const CLIENT_ASSERTION_ALGS = ['RS384', 'ES384', 'RS256', 'ES256', 'RS512', 'ES512', 'PS256', 'PS384', 'PS512'];

export function smartConfiguration(config: AppConfig): Record<string, unknown> {
  const issuer = config.issuerUrl;
  return {
    issuer,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    management_endpoint: `${issuer}/apps`,
    introspection_endpoint: `${issuer}/token/introspection`,
    revocation_endpoint: `${issuer}/token/revocation`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types_supported: ['code'],
    scopes_supported: SUPPORTED_SCOPES,
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      // Natively over https (enableHttpPostMethods); otherwise as a 303 to GET (oidc/authorize-post.ts).
      'authorize-post',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'context-banner',
      'context-passthrough-banner',
      'context-style',
      'context-passthrough-style',
      'context-ehr-patient',
      'context-ehr-encounter',
      'context-standalone-patient',
      'permission-offline',
      'permission-online',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
      'sso-openid-connect',
    ],
  };
}
