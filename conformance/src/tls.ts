/**
 * Inferno's tls_version_test (catalogue §6): for an https URL, connect with each TLS version
 * pinned and certificate verification on; TLS 1.2 or 1.3 must work, older versions should not.
 */
import { connect, type SecureVersion } from 'node:tls';

export interface TlsProbe {
  accepted: SecureVersion[];
  refused: { version: SecureVersion; error: string }[];
}

function tryVersion(host: string, port: number, version: SecureVersion): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: host, minVersion: version, maxVersion: version, rejectUnauthorized: true, timeout: 8000 }, () => {
      socket.end();
      resolve(undefined);
    });
    socket.on('error', (err) => resolve(err.message));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
  });
}

export async function probeTls(url: string): Promise<TlsProbe> {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : 443;
  const probe: TlsProbe = { accepted: [], refused: [] };
  for (const version of ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as SecureVersion[]) {
    const error = await tryVersion(u.hostname, port, version);
    if (error === undefined) probe.accepted.push(version);
    else probe.refused.push({ version, error });
  }
  return probe;
}

/** Problems (fail) and warnings of a probe: no modern version, or an old one accepted. */
export function judgeTls(probe: TlsProbe): { problems: string[]; warnings: string[] } {
  const modern = probe.accepted.filter((v) => v === 'TLSv1.2' || v === 'TLSv1.3');
  const old = probe.accepted.filter((v) => v === 'TLSv1' || v === 'TLSv1.1');
  return {
    problems: modern.length ? [] : [`no TLS 1.2 or 1.3 connection with a verified certificate (${probe.refused.map((r) => `${r.version}: ${r.error}`).join('; ')})`],
    warnings: old.length ? [`accepts ${old.join(', ')} (below TLS 1.2)`] : [],
  };
}
