/**
 * Load generation (autocannon's programmatic API, in the benchmark's own process), the child
 * processes it measures (the real server, the bare baseline) and CPU accounting per process:
 * this process (the load generator), the server or baseline child, the PostgreSQL backends of the
 * benchmark database and the server's shared PostgreSQL processes (bench-db.ts), Redis, and
 * everything else on the machine (another test run, for instance).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFileSync, readdirSync } from 'node:fs';
import autocannon from 'autocannon';
import { cpuSince, cpuSnapshot, type CpuSnapshot } from './bench-db.js';

const TICKS_PER_SECOND = 100;

export interface Target {
  path: string;
  headers: Record<string, string>;
}

export interface CpuBreakdown {
  /** Seconds of wall time. */
  seconds: number;
  /** CPU seconds: the process under test (server or baseline child), all threads. */
  server: number;
  /** This process: autocannon. */
  loadGenerator: number;
  postgresBackends: number;
  postgresShared: number;
  redis: number;
  /** Everything else on the machine meanwhile. */
  other: number;
}

export interface LoadResult {
  label: string;
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  bytesPerResponse: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  cpu: CpuBreakdown;
  /** CPU microseconds per request, by process. */
  cpuMicrosPerRequest: { server: number; postgres: number; redis: number; loadGenerator: number };
  warmup: { seconds: number; requests: number; requestsPerSecond: number; non2xx: number; errors: number };
}

/** A spawned child with its output in a log file; stopped by its own pid. */
export interface Child {
  pid: number;
  process: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * How `npm start` runs the server (package.json): AsyncLocalStorage, which oidc-provider uses on
 * every request it serves, on Node 22 otherwise installs promise hooks that tax every promise in
 * the process, the FHIR API's included (the default from Node 24 on).
 */
export const SERVER_NODE_ARGS = ['--experimental-async-context-frame'];

export function spawnChild(script: string, env: Record<string, string>, logFile: string, nodeArgs: readonly string[] = []): Child {
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, [...nodeArgs, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    process: child,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200 (or the child exits, or the time is up). */
export async function waitForHttp(url: string, child: Child, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.process.exitCode !== null) throw new Error(`${url}: the process exited with ${child.process.exitCode}; see ${child.logFile}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url}: no answer in ${timeoutMs / 1000} s; see ${child.logFile}`);
}

interface Snapshot {
  base: CpuSnapshot;
  server: number;
  redis: Map<number, number>;
}

function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function redisTicks(): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'redis-server') out.set(Number(e), ticksOf(Number(e)));
    } catch {
      // gone
    }
  }
  return out;
}

function snapshot(serverPid: number): Snapshot {
  return { base: cpuSnapshot(), server: ticksOf(serverPid), redis: redisTicks() };
}

function breakdown(start: Snapshot, serverPid: number, dbName: string): CpuBreakdown {
  const serverTicks = ticksOf(serverPid);
  const redisNow = redisTicks();
  const u = cpuSince(start.base, dbName);
  const server = Math.max(0, serverTicks - start.server) / TICKS_PER_SECOND;
  let redis = 0;
  for (const [pid, t] of redisNow) redis += Math.max(0, t - (start.redis.get(pid) ?? 0)) / TICKS_PER_SECOND;
  return {
    seconds: u.seconds,
    server,
    loadGenerator: u.nodeCpu,
    postgresBackends: u.pgBackendCpu,
    postgresShared: u.pgSharedCpu,
    redis,
    other: Math.max(0, u.otherCpu - server - redis),
  };
}

export interface LoadOptions {
  label: string;
  origin: string;
  targets: readonly Target[];
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** The process serving the requests (for its CPU). */
  serverPid: number;
  dbName: string;
  /** Called when the measured run starts (after the warm-up). */
  onMeasureStart?: () => void;
}

/** A warm-up, then the measured run; every request goes to a target drawn at random. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const run = (seconds: number) =>
    autocannon({
      url: o.origin,
      connections: o.connections,
      pipelining: 1,
      duration: seconds,
      timeout: 30,
      requests: [
        {
          method: 'GET',
          setupRequest: (req) => {
            const t = o.targets[Math.floor(Math.random() * o.targets.length)]!;
            return { ...req, path: t.path, headers: { ...req.headers, ...t.headers } };
          },
        },
      ],
    });
  const warm = await run(o.warmupSeconds);
  o.onMeasureStart?.();
  const start = snapshot(o.serverPid);
  const r = await run(o.seconds);
  const cpu = breakdown(start, o.serverPid, o.dbName);
  const requests = r.requests.total;
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]));
  const per = (s: number) => (requests ? (s / requests) * 1e6 : 0);
  const result: LoadResult = {
    label: o.label,
    connections: o.connections,
    seconds: r.duration,
    requests,
    requestsPerSecond: requests / r.duration,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
    bytesPerResponse: requests ? r.throughput.total / requests : 0,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    cpu,
    cpuMicrosPerRequest: {
      server: per(cpu.server),
      postgres: per(cpu.postgresBackends + cpu.postgresShared),
      redis: per(cpu.redis),
      loadGenerator: per(cpu.loadGenerator),
    },
    warmup: {
      seconds: warm.duration,
      requests: warm.requests.total,
      requestsPerSecond: warm.requests.total / warm.duration,
      non2xx: warm.non2xx,
      errors: warm.errors,
    },
  };
  console.log(
    `[bench:api] ${o.label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
      `non-2xx ${result.non2xx + warm.non2xx}, errors ${result.errors + warm.errors}; CPU µs/req server ${per(cpu.server).toFixed(0)}, ` +
      `postgres ${per(cpu.postgresBackends + cpu.postgresShared).toFixed(0)}, redis ${per(cpu.redis).toFixed(0)}, autocannon ${per(cpu.loadGenerator).toFixed(0)}; ` +
      `other load ${cpu.other.toFixed(1)} CPU-s`,
  );
  if (result.non2xx || result.errors || warm.non2xx || warm.errors) {
    throw new Error(
      `${o.label}: ${result.non2xx + warm.non2xx} non-2xx responses and ${result.errors + warm.errors} errors ` +
        `(status codes of the measured run: ${JSON.stringify(statusCodes)}; warm-up ${JSON.stringify(warm.statusCodeStats ?? {})})`,
    );
  }
  return result;
}
