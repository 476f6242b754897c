/**
 * The read-only FHIR interactions: read, search (GET and POST _search), and 405 for every write.
 * Each PHI route first resolves the token's access (token-access.ts) and then asks the store,
 * which applies that access inside the SQL. Responses carrying PHI are never cached.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { grantFor, type Interaction } from '@patient-access/consent';
import { accessScope } from '../access/access-filters.js';
import type { TokenAccess } from '../access/token-access.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { parseSearch } from '../search/parse-search.js';
import { supportedResourceTypes } from '../search/registry.js';
import { SearchError, type PageCursor } from '../search/search-request.js';
import type { ResourceStore } from '../store/resource-store.js';
import { searchsetBundle } from './bundle.js';

export interface FhirRouteDeps {
  store: ResourceStore;
  fhirBaseUrl: string;
  resolveAccess(authorization: string | undefined): Promise<TokenAccess>;
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function fhirRoutes(deps: FhirRouteDeps): Router {
  const router = new Router({ prefix: '/fhir' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });

  const access = async (ctx: Context, type: string, interaction: Interaction): Promise<TokenAccess> => {
    const token = await deps.resolveAccess(ctx.get('Authorization') || undefined);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    if (!supportedResourceTypes.has(type)) throw new OperationOutcomeError('NOT_FOUND', `Resource type ${type} is not supported`);
    if (grantFor(token.scopes, token.contexts, type, interaction).kind === 'none') {
      throw new OperationOutcomeError('INSUFFICIENT_SCOPE', `The token's scopes do not allow ${interaction} of ${type}`, {
        'WWW-Authenticate': `Bearer realm="fhir", error="insufficient_scope", error_description="${interaction} of ${type} is not in scope"`,
      });
    }
    return token;
  };

  router.get('/:type/:id', async (ctx) => {
    const { type, id } = ctx.params as { type: string; id: string };
    ctx.state['route'] = '/fhir/:type/:id';
    const token = await access(ctx, type, 'read');
    // Same answer for "no such id" and "not yours": existence never leaks.
    const found = ID.test(id) ? await deps.store.read(type, id, accessScope(token, 'read')) : undefined;
    if (!found) throw new OperationOutcomeError('NOT_FOUND', `${type}/${id} is not known`);
    const etag = `W/"${found.versionId}"`;
    ctx.set('ETag', etag);
    ctx.set('Last-Modified', found.lastUpdated.toUTCString());
    if (ctx.get('If-None-Match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/fhir+json';
    ctx.body = found.json;
  });

  const search = async (ctx: Context, pairs: [string, string][]) => {
    const { type } = ctx.params as { type: string };
    const token = await access(ctx, type, 'search');
    const strict = /handling=strict/i.test(ctx.get('Prefer'));
    let request;
    try {
      request = parseSearch(type, pairs, { strict, fhirBaseUrl: deps.fhirBaseUrl, decodeCursor: (raw) => decodeCursor(raw, token.grantId) });
    } catch (err) {
      if (err instanceof SearchError) throw new OperationOutcomeError(err.code, err.message);
      throw err;
    }
    const result = await deps.store.search(request, accessScope(token, 'search'));
    ctx.type = 'application/fhir+json';
    ctx.body = searchsetBundle({
      baseUrl: deps.fhirBaseUrl,
      request,
      pairs,
      result,
      nextCursor: result.next ? encodeCursor(result.next, token.grantId) : undefined,
    });
  };

  router.get('/:type', async (ctx) => {
    ctx.state['route'] = '/fhir/:type';
    await search(ctx, queryPairs(ctx.querystring));
  });

  router.post('/:type/_search', form, async (ctx) => {
    ctx.state['route'] = '/fhir/:type/_search';
    const body = ctx.request.body as Record<string, string | string[]> | undefined;
    const fromBody = Object.entries(body ?? {}).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, String(x)]));
    await search(ctx, [...queryPairs(ctx.querystring), ...fromBody]);
  });

  // Read-only API: every write interaction is refused, whatever the token.
  router.all(['/', '/:type', '/:type/:id', '/:type/:id/{*rest}'], (ctx) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') throw new OperationOutcomeError('NOT_FOUND', 'Not found');
    throw new OperationOutcomeError('METHOD_NOT_ALLOWED', 'This FHIR server is read-only', { Allow: 'GET' });
  });

  return router;
}

function queryPairs(querystring: string): [string, string][] {
  return [...new URLSearchParams(querystring)];
}

/**
 * Paging cursors are bound to the grant that made them: a cursor from another token is refused,
 * and a cursor edited by hand can only move within what this token sees (the SQL filters apply).
 */
function encodeCursor(cursor: PageCursor, grantId: string): string {
  return Buffer.from(JSON.stringify({ ...cursor, g: grantId })).toString('base64url');
}

function decodeCursor(raw: string, grantId: string): PageCursor {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { afterId?: unknown; offset?: unknown; g?: unknown };
    if (parsed.g === grantId) {
      if (typeof parsed.afterId === 'string') return { afterId: parsed.afterId };
      if (Number.isInteger(parsed.offset) && (parsed.offset as number) >= 0) return { offset: parsed.offset as number };
    }
  } catch {
    // fall through
  }
  throw new SearchError('INVALID_PARAMETER_VALUE', 'Invalid or foreign paging cursor');
}
