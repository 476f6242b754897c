/**
 * FHIR REST as Inferno's client does it: read, search by GET or POST `_search` (form body), and
 * paging by GET on each Bundle `next` link, up to 20 pages.
 */
import type { HttpClient, HttpResponse } from './http.js';
import { jsonObject } from './http.js';

export type FhirResource = Record<string, unknown> & { resourceType: string; id?: string };

export interface Bundle {
  resourceType: 'Bundle';
  type?: string;
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: { fullUrl?: string; resource?: FhirResource; search?: { mode?: string } }[];
}

export const FHIR_JSON = 'application/fhir+json';

export function searchUrl(base: string, type: string, params: [string, string][]): string {
  const qs = new URLSearchParams(params).toString();
  return `${base}/${type}${qs ? `?${qs}` : ''}`;
}

export function asBundle(res: HttpResponse): Bundle | undefined {
  const body = jsonObject(res);
  return body?.['resourceType'] === 'Bundle' ? (body as unknown as Bundle) : undefined;
}

export function asResource(res: HttpResponse): FhirResource | undefined {
  const body = jsonObject(res);
  return typeof body?.['resourceType'] === 'string' ? (body as FhirResource) : undefined;
}

export function entries(bundle: Bundle | undefined): FhirResource[] {
  return (bundle?.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

export function nextLink(bundle: Bundle | undefined): string | undefined {
  return bundle?.link?.find((l) => l.relation === 'next')?.url;
}

export class FhirClient {
  constructor(
    readonly http: HttpClient,
    readonly base: string,
    readonly token?: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  with(http: HttpClient): FhirClient {
    return new FhirClient(http, this.base, this.token, this.extraHeaders);
  }

  private headers(): Record<string, string> {
    return { accept: FHIR_JSON, ...this.extraHeaders };
  }

  read(type: string, id: string): Promise<HttpResponse> {
    return this.http.get(`${this.base}/${type}/${encodeURIComponent(id)}`, { headers: this.headers(), ...(this.token ? { bearer: this.token } : {}) });
  }

  get(url: string): Promise<HttpResponse> {
    return this.http.get(url, { headers: this.headers(), ...(this.token ? { bearer: this.token } : {}) });
  }

  search(type: string, params: [string, string][], method: 'GET' | 'POST' = 'GET'): Promise<HttpResponse> {
    if (method === 'POST') {
      return this.http.post(`${this.base}/${type}/_search`, { form: params, headers: this.headers(), ...(this.token ? { bearer: this.token } : {}) });
    }
    return this.get(searchUrl(this.base, type, params));
  }

  /** Search and follow `next` links (at most `maxPages` pages). Every page must be 200 + Bundle. */
  async searchAll(
    type: string,
    params: [string, string][],
    method: 'GET' | 'POST' = 'GET',
    maxPages = 20,
  ): Promise<{ first: HttpResponse; pages: HttpResponse[]; resources: FhirResource[]; problem?: string }> {
    const first = await this.search(type, params, method);
    const pages = [first];
    const resources: FhirResource[] = [];
    let res = first;
    for (let page = 1; ; page++) {
      if (res.status !== 200) return { first, pages, resources, problem: `page ${page}: HTTP ${res.status}` };
      const bundle = asBundle(res);
      if (!bundle) return { first, pages, resources, problem: `page ${page}: not a Bundle` };
      resources.push(...entries(bundle));
      const next = nextLink(bundle);
      if (!next || page >= maxPages) break;
      res = await this.get(next);
      pages.push(res);
    }
    return { first, pages, resources };
  }
}
