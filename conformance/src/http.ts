/**
 * The suite's only way to talk to the server: fetch, with every exchange (request and response)
 * recorded so the report can show what lay behind a failure. Credentials are shortened in the
 * record (enough to tell tokens apart, not enough to reuse them).
 */

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Exchange {
  request: RecordedRequest;
  response?: RecordedResponse;
  error?: string;
  ms: number;
  at: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  url: string;
  exchange: Exchange;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** application/x-www-form-urlencoded body. Repeated keys: give an array of pairs. */
  form?: Record<string, string | undefined> | [string, string][];
  /** application/json body. */
  json?: unknown;
  body?: string;
  bearer?: string;
  /** Follow redirects (default false: the suite looks at redirects itself). */
  follow?: boolean;
  timeoutMs?: number;
}

export type ExchangeSink = (exchange: Exchange) => void;

const BODY_LIMIT = 64 * 1024;

/** Shorten secrets: first 10 characters and the length. */
export function redactSecret(value: string): string {
  return value.length <= 12 ? '…' : `${value.slice(0, 10)}…(${value.length} chars)`;
}

const SECRET_FIELDS = /^(password|client_secret|code_verifier|refresh_token|access_token|id_token|token|client_assertion|code)$/;

export function redactForm(body: string): string {
  const params = new URLSearchParams(body);
  const out = new URLSearchParams();
  for (const [k, v] of params) out.append(k, SECRET_FIELDS.test(k) && v ? redactSecret(v) : v);
  return out.toString();
}

export function redactJsonText(text: string): string {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const k of Object.keys(copy)) {
        if (SECRET_FIELDS.test(k) && typeof copy[k] === 'string' && k !== 'code') copy[k] = redactSecret(copy[k] as string);
      }
      return JSON.stringify(copy, null, 2);
    }
    return JSON.stringify(value, null, 2);
  } catch {
    return text;
  }
}

function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (/^authorization$/i.test(k)) {
      const [scheme, ...rest] = v.split(' ');
      out[k] = `${scheme} ${redactSecret(rest.join(' '))}`;
    } else if (/^(cookie|set-cookie)$/i.test(k)) {
      out[k] = '…';
    } else {
      out[k] = v;
    }
  }
  return out;
}

function truncate(text: string): string {
  return text.length > BODY_LIMIT ? `${text.slice(0, BODY_LIMIT)}\n… (${text.length - BODY_LIMIT} more characters)` : text;
}

export class HttpClient {
  constructor(private sink: ExchangeSink = () => undefined) {}

  /** A client that records into another sink (one per test). */
  withSink(sink: ExchangeSink): HttpClient {
    return new HttpClient(sink);
  }

  get(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('GET', url, options);
  }

  post(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('POST', url, options);
  }

  async request(method: string, url: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let body: string | undefined = options.body;
    if (options.form) {
      const pairs = Array.isArray(options.form)
        ? options.form
        : Object.entries(options.form).filter((e): e is [string, string] => e[1] !== undefined);
      body = new URLSearchParams(pairs).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    } else if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    if (options.bearer) headers['authorization'] = `Bearer ${options.bearer}`;
    const started = Date.now();
    const recordedBody = body === undefined ? undefined : options.form ? redactForm(body) : truncate(redactJsonText(body));
    const exchange: Exchange = {
      request: { method, url, headers: redactHeaders(headers), ...(recordedBody !== undefined ? { body: recordedBody } : {}) },
      ms: 0,
      at: new Date(started).toISOString(),
    };
    try {
      const res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: options.follow ? 'follow' : 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
      const text = await res.text();
      const responseHeaders: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        responseHeaders[k] = v;
      });
      exchange.response = { status: res.status, headers: redactHeaders(responseHeaders), body: truncate(redactJsonText(text)) };
      exchange.ms = Date.now() - started;
      this.sink(exchange);
      let json: unknown;
      try {
        json = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json, url: res.url || url, exchange };
    } catch (err) {
      exchange.error = err instanceof Error ? `${err.name}: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}` : String(err);
      exchange.ms = Date.now() - started;
      this.sink(exchange);
      throw new HttpError(`${method} ${url} failed: ${exchange.error}`, exchange);
    }
  }
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly exchange: Exchange,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body as an object, or undefined. */
export function jsonObject(res: HttpResponse): Record<string, unknown> | undefined {
  return res.json && typeof res.json === 'object' && !Array.isArray(res.json) ? (res.json as Record<string, unknown>) : undefined;
}
