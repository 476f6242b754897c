/**
 * Where the server's own CPU goes: a V8 CPU profile of the server (node --cpu-prof) during a short
 * extra load run, after the measured runs (profiling slows the server, so these runs are not in the
 * results table). Each sample is charged to the nearest frame up its stack that belongs to a
 * package (node_modules/<name> or packages/<name>), so native work such as a socket write is charged
 * to the library that asked for it (pg's writes to PostgreSQL go to pg); samples with no package
 * frame are Node's own (HTTP parsing, timers, GC…).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface ProfileSummary {
  /** Milliseconds of samples, idle excluded. */
  busyMs: number;
  idleMs: number;
  /** Share of busy time by package (nearest package frame). */
  packages: { name: string; share: number }[];
  /** Share of busy time in native socket writes (writev) issued by pg, i.e. sending statements to PostgreSQL. */
  pgSocketWriteShare: number;
  /** Share of busy time inside frames of these functions (inclusive). */
  inclusive: { name: string; share: number }[];
}

const INCLUSIVE: [string, RegExp][] = [
  ['knex: building SQL (toSQL)', /^toSQL@.*knex\/lib\/query\/querybuilder/],
  ['jose: jwtVerify', /^jwtVerify@/],
  ['rate limiter consume (Redis)', /^consume@.*rate-limiter-flexible/],
  ['access-log append (appendAccessLog)', /^appendAccessLog@/],
  ['pg: parsing result rows', /^parseRow@.*pg\/lib\/result/],
  ['garbage collector', /^\(garbage collector\)@/],
];

function packageOf(url: string): string | undefined {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1];
  const own = /\/work\/[^/]+\/(packages\/[^/]+|scripts)\//.exec(url) ?? /\/(packages\/[^/]+)\/dist\//.exec(url);
  return own?.[1];
}

export function newestProfile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (!files.length) throw new Error(`no .cpuprofile in ${dir}`);
  return join(dir, files.at(-1)!);
}

/**
 * `fromUs`: only samples taken after this CLOCK_MONOTONIC time in microseconds (V8's profile clock,
 * the same as process.hrtime in any process on the machine): leaves the server's start-up out.
 */
export function summarizeProfile(file: string, fromUs = 0): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t >= fromUs) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  let busy = 0;
  let idle = 0;
  let pgWrites = 0;
  const pkg = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    let owner: string | undefined;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      owner ??= packageOf(f.url);
      const key = `${f.functionName || '(anonymous)'}@${f.url}`;
      for (const [name, re] of INCLUSIVE) {
        if (!seen.has(name) && re.test(key)) {
          seen.add(name);
          incl.set(name, (incl.get(name) ?? 0) + us);
        }
      }
    }
    const name = owner ?? (fn === '(garbage collector)' ? '(garbage collector)' : '(Node.js itself: HTTP, streams, timers…)');
    pkg.set(name, (pkg.get(name) ?? 0) + us);
    if (fn === 'writev' && owner === 'pg') pgWrites += us;
  }
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    packages: [...pkg].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, share: us / busy })),
    pgSocketWriteShare: pgWrites / busy,
    inclusive: INCLUSIVE.map(([name]) => ({ name, share: (incl.get(name) ?? 0) / busy })),
  };
}
