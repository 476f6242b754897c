/**
 * Patient/{id}/$everything for one patient, one request at a time: time to the response headers,
 * to the first body byte and to the end, the size, and whether the body came chunked (streamed)
 * rather than with a Content-Length. The body is parsed at the end to check it is one whole Bundle.
 */
import { request } from 'node:http';

export interface EverythingRun {
  status: number;
  headersMs: number;
  firstByteMs: number;
  totalMs: number;
  bytes: number;
  chunks: number;
  transferEncoding: string | null;
  contentLength: string | null;
  entries: number;
  matches: number;
  includes: number;
}

export function everythingOnce(origin: string, path: string, authorization: string): Promise<EverythingRun> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = request(`${origin}${path}`, { headers: { authorization, accept: 'application/fhir+json' }, agent: false }, (res) => {
      const headersMs = ms();
      let firstByteMs = 0;
      let chunks = 0;
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (!chunks) firstByteMs = ms();
        chunks++;
        parts.push(chunk);
      });
      res.on('end', () => {
        const totalMs = ms();
        const body = Buffer.concat(parts);
        let entries = 0;
        let matches = 0;
        let includes = 0;
        if (res.statusCode === 200) {
          try {
            const bundle = JSON.parse(body.toString('utf8')) as { entry?: { search?: { mode?: string } }[] };
            entries = bundle.entry?.length ?? 0;
            matches = bundle.entry?.filter((e) => e.search?.mode === 'match').length ?? 0;
            includes = bundle.entry?.filter((e) => e.search?.mode === 'include').length ?? 0;
          } catch (err) {
            reject(new Error(`$everything: the body is not one JSON Bundle (${String(err)})`));
            return;
          }
        }
        resolve({
          status: res.statusCode ?? 0,
          headersMs,
          firstByteMs,
          totalMs,
          bytes: body.length,
          chunks,
          transferEncoding: res.headers['transfer-encoding'] ?? null,
          contentLength: res.headers['content-length'] ?? null,
          entries,
          matches,
          includes,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
