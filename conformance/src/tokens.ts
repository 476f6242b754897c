/**
 * Checks of token responses (smart_token_response_body_stu2_2, refresh body, headers) and of the
 * OpenID Connect id_token (decode, discovery from `iss`, JWKS, header, signature and claims with
 * jose), independent of the server's own code.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { FHIR_ID, headerProblem, isObject, scopeList } from './checks.js';

const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

export interface BodyCheck {
  problems: string[];
  warnings: string[];
}

/** smart_token_response_body_stu2_2 (and the refresh body check when `previousScopes` is given). */
export function tokenBodyCheck(body: Record<string, unknown>, requested: string[], previousScopes?: string[]): BodyCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const key of ['access_token', 'token_type', 'expires_in', 'scope']) {
    const v = body[key];
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) problems.push(`${key} is missing or blank`);
  }
  for (const key of ['access_token', 'token_type', 'scope', 'refresh_token']) {
    if (body[key] !== undefined && typeof body[key] !== 'string') problems.push(`${key} is not a string`);
  }
  if (body['expires_in'] !== undefined && typeof body['expires_in'] !== 'number') problems.push('expires_in is not a number');
  if (typeof body['token_type'] === 'string' && body['token_type'].toLowerCase() !== 'bearer') problems.push(`token_type is "${body['token_type']}", not Bearer`);
  const granted = scopeList(body['scope']);
  if (previousScopes) {
    const extra = granted.filter((s) => !previousScopes.includes(s));
    if (extra.length) problems.push(`the refresh granted scopes not granted before: ${extra.join(' ')}`);
  } else {
    const missing = requested.filter((s) => !granted.includes(s));
    if (missing.length) warnings.push(`requested scopes not granted: ${missing.join(' ')}`);
  }
  const ctx = body['fhirContext'];
  if (ctx !== undefined) {
    if (!Array.isArray(ctx)) problems.push('fhirContext is not an array');
    else {
      for (const item of ctx) {
        if (!isObject(item)) {
          problems.push(`fhirContext item ${JSON.stringify(item)} is not an object`);
          continue;
        }
        if (item['reference'] === undefined && item['canonical'] === undefined && item['identifier'] === undefined) problems.push('a fhirContext item has none of reference, canonical, identifier');
        if (item['reference'] !== undefined) {
          const [type, id, ...more] = String(item['reference']).split('/');
          if (more.length || !type || !RESOURCE_TYPE.test(type) || !id || !FHIR_ID.test(id)) problems.push(`fhirContext reference "${String(item['reference'])}" is not a relative Type/id`);
        }
        if (item['canonical'] !== undefined && !/^https?:\/\/.+\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\|.+)?$/.test(String(item['canonical']))) {
          problems.push(`fhirContext canonical "${String(item['canonical'])}" is not an absolute URL ending Type/id`);
        }
        if (item['identifier'] !== undefined && !isObject(item['identifier'])) problems.push('fhirContext identifier is not an object');
        if (item['type'] !== undefined && !RESOURCE_TYPE.test(String(item['type']))) problems.push(`fhirContext type "${String(item['type'])}" is not a resource type`);
      }
    }
  }
  return { problems, warnings };
}

/** smart_token_response_headers: Cache-Control no-store and Pragma no-cache. */
export function tokenHeaderProblems(headers: Headers): string[] {
  return [headerProblem(headers, 'cache-control', 'no-store'), headerProblem(headers, 'pragma', 'no-cache')].filter((p): p is string => !!p);
}

export interface IdTokenContext {
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

export function decodeIdToken(idToken: string): IdTokenContext {
  return { header: decodeProtectedHeader(idToken), payload: decodeJwt(idToken) };
}

/** smart_openid_token_header: alg RS256; kid required (and matching) when the JWKS has several RSA keys. */
export function idTokenHeaderProblems(header: ProtectedHeaderParameters, jwks: JWK[]): { problems: string[]; key?: JWK } {
  const problems: string[] = [];
  if (header.alg !== 'RS256') problems.push(`alg is ${String(header.alg)}, not RS256`);
  const rsa = jwks.filter((k) => k.kty === 'RSA');
  let key: JWK | undefined;
  if (header.kid) {
    key = rsa.find((k) => k.kid === header.kid);
    if (!key) problems.push(`kid ${header.kid} matches no RSA key of the JWKS`);
  } else if (rsa.length > 1) problems.push('kid is missing although the JWKS has several RSA keys');
  else key = rsa[0];
  return { problems, ...(key ? { key } : {}) };
}

/** smart_openid_token_payload: signature, iss, aud, exp (60 s leeway), sub, required claims. */
export async function idTokenPayloadProblems(idToken: string, key: JWK, issuer: string, clientId: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    await jwtVerify(idToken, await importJWK(key, 'RS256'), { issuer, audience: clientId, clockTolerance: 60, algorithms: ['RS256'] });
  } catch (err) {
    problems.push(`verification failed: ${(err as Error).message}`);
  }
  const payload = decodeJwt(idToken);
  for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat']) if (payload[claim] === undefined) problems.push(`claim ${claim} is missing`);
  if (typeof payload.sub !== 'string' || !payload.sub.trim() || payload.sub.length >= 256) problems.push('sub is blank or 256 characters or longer');
  return problems;
}

/** smart_openid_fhir_user_claim: the type and id of fhirUser (last two path segments). */
export function fhirUserParts(fhirUser: unknown): { type: string; id: string } | undefined {
  if (typeof fhirUser !== 'string') return undefined;
  const parts = fhirUser.split('/');
  const id = parts[parts.length - 1];
  const type = parts[parts.length - 2];
  if (!id || !type || !['Patient', 'Practitioner', 'RelatedPerson', 'Person'].includes(type)) return undefined;
  return { type, id };
}
