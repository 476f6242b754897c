/**
 * The app side of the launches: a small HTTP server on a loopback address that serves the redirect
 * URI and the launch URI (Inferno's `/redirect` and `/launch` endpoints). The browser lands here
 * at the end of an authorization or an EHR launch; the suite reads the query from the browser's
 * URL and this server keeps a log of the hits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AppServer {
  origin: string;
  redirectUri: string;
  launchUri: string;
  hits: { path: string; query: Record<string, string>; at: string }[];
  close(): Promise<void>;
}

export async function startAppServer(options: { port?: number; host?: string } = {}): Promise<AppServer> {
  const hits: AppServer['hits'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.local');
    hits.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), at: new Date().toISOString() });
    const title = url.pathname.endsWith('/launch') ? 'App launch' : 'App redirect';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html lang="en"><head><title>${title}</title></head><body><main><h1>${title}</h1><p>The conformance app received the request.</p></main></body></html>`);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host}:${port}`;
  return {
    origin,
    redirectUri: `${origin}/conformance/redirect`,
    launchUri: `${origin}/conformance/launch`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
