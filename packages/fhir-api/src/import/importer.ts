/**
 * `npm run import`: FHIR R4 JSON Bundles (transaction, batch, collection), single resources, and
 * bulk-data ndjson files or folders. A bundle is all or nothing; ndjson lines are independent, so
 * one bad line (reported with file and line) never loses the valid ones. Re-importing the same
 * data changes nothing.
 */
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Knex } from 'knex';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { writeResources, type WriteOptions, type WriteResult } from '../store/resource-writer.js';
import { resolveBundle, rewriteReferences } from './bundle-entries.js';
import { ValidationPool } from './validation-pool.js';

export interface ImportProblem {
  file: string;
  /** `entry 3`, `line 12` or `file`. */
  location: string;
  message: string;
}

export interface ImportReport {
  files: number;
  resources: number;
  byType: Record<string, number>;
  created: number;
  updated: number;
  unchanged: number;
  problems: ImportProblem[];
  seconds: number;
}

export interface ImportOptions extends WriteOptions {
  /** Called as bytes of input are processed. */
  onProgress?: (bytesDone: number, bytesTotal: number, resources: number) => void;
  /**
   * Worker threads for FHIR structure validation, which costs more CPU than writing. Default: one
   * per core for inputs of at least 8 MiB, none below (each thread spends about a second of CPU
   * loading the FHIR definitions); 0 validates on the importing thread.
   */
  validationThreads?: number;
}

const VALIDATION_THREADS_FROM_BYTES = 8 * 2 ** 20;

/** ndjson lines per transaction (invalid lines included, blank lines not counted). */
const NDJSON_BATCH = 1000;

export async function importPath(db: Knex, path: string, options: ImportOptions = {}): Promise<ImportReport> {
  const started = process.hrtime.bigint();
  const files = await listFiles(path);
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const report: ImportReport = { files: files.length, resources: 0, byType: {}, created: 0, updated: 0, unchanged: 0, problems: [], seconds: 0 };
  let done = 0;
  const progress = () => options.onProgress?.(done, total, report.resources);
  const record = (resources: Resource[], result: WriteResult) => {
    report.resources += resources.length;
    report.created += result.created;
    report.updated += result.updated;
    report.unchanged += result.unchanged;
    for (const r of resources) report.byType[r.resourceType] = (report.byType[r.resourceType] ?? 0) + 1;
  };

  const pool = new ValidationPool(options.validationThreads ?? (total >= VALIDATION_THREADS_FROM_BYTES ? availableParallelism() : 0));
  const ndjson = new NdjsonPipeline(db, options, report, record, pool, (bytes) => {
    done += bytes;
    progress();
  });
  try {
    for (const [i, file] of files.entries()) {
      if (file.endsWith('.ndjson')) {
        await readNdjson(file, ndjson);
      } else {
        await ndjson.drain(); // files are imported in order: earlier ndjson batches are written first
        await importJsonFile(db, file, options, report, record, pool);
        done += sizes[i]!;
        progress();
      }
    }
    await ndjson.drain();
  } finally {
    await pool.close();
  }
  report.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return report;
}

async function importJsonFile(
  db: Knex,
  file: string,
  options: ImportOptions,
  report: ImportReport,
  record: (r: Resource[], w: WriteResult) => void,
  pool: ValidationPool,
): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    report.problems.push({ file, location: 'file', message: `not valid JSON: ${(err as Error).message}` });
    return;
  }
  const doc = parsed as Resource;
  if (!doc || typeof doc !== 'object' || typeof doc.resourceType !== 'string') {
    report.problems.push({ file, location: 'file', message: 'not a FHIR resource (no resourceType)' });
    return;
  }
  const bundle: Bundle = doc.resourceType === 'Bundle' ? (doc as Bundle) : { resourceType: 'Bundle', type: 'collection', entry: [{ resource: doc }] };
  if (bundle.type !== 'transaction' && bundle.type !== 'batch' && bundle.type !== 'collection') {
    report.problems.push({ file, location: 'file', message: `Bundle type ${bundle.type} cannot be imported (use transaction, batch or collection)` });
    return;
  }
  const resolved = resolveBundle(bundle);
  const problems = [...resolved.problems];
  const checked = await pool.validateResources(resolved.resources.map((r) => r.resource));
  resolved.resources.forEach(({ index }, i) => {
    for (const message of checked[i]!) problems.push({ index, message });
  });
  if (problems.length) {
    for (const p of problems) report.problems.push({ file, location: `entry ${p.index}`, message: p.message });
    report.problems.push({ file, location: 'file', message: 'bundle not imported (a bundle is all or nothing)' });
    return;
  }
  const resources = resolved.resources.map((r) => r.resource);
  try {
    await db.transaction(async (trx) => {
      const conditional = await resolveConditional(trx, resolved.conditional);
      const missing = [...resolved.conditional].filter((c) => !conditional.has(c));
      if (missing.length) throw new ImportAbort(`unresolved conditional reference(s): ${missing.join(', ')}`);
      const final = conditional.size
        ? resources.map((r) => rewriteReferences(r, (ref) => conditional.get(ref) ?? ref) as Resource)
        : resources;
      record(final, await writeResources(trx, final, options));
    });
  } catch (err) {
    if (!(err instanceof ImportAbort)) throw err;
    report.problems.push({ file, location: 'file', message: `bundle not imported: ${err.message}` });
  }
}

/** Reads an ndjson file into batches of NDJSON_BATCH lines (blank lines skipped, counted for progress). */
async function readNdjson(file: string, pipeline: NdjsonPipeline): Promise<void> {
  const input = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let batch: NdjsonBatch = { file, lines: [], lineNos: [], bytes: 0 };
  let lineNo = 0;
  for await (const line of input) {
    lineNo++;
    batch.bytes += Buffer.byteLength(line) + 1;
    if (!line.trim()) continue;
    batch.lines.push(line);
    batch.lineNos.push(lineNo);
    if (batch.lines.length >= NDJSON_BATCH) {
      await pipeline.add(batch);
      batch = { file, lines: [], lineNos: [], bytes: 0 };
    }
  }
  await pipeline.add(batch);
}

interface NdjsonBatch {
  file: string;
  lines: string[];
  lineNos: number[];
  bytes: number;
}

/**
 * ndjson batches, across files, as a pipeline: while one batch is written (one transaction), the
 * next ones are validated (on the pool's threads) and read. Batches are written one after the
 * other, in the order they came, so a later line for the same resource still wins and a Provenance
 * file (read last) finds its targets stored. Problems are reported in line order.
 */
class NdjsonPipeline {
  private readonly queued: (NdjsonBatch & { checked: Promise<string[][]> })[] = [];
  private writing: Promise<void> = Promise.resolve();
  private writeFailure: { error: unknown } | undefined;

  constructor(
    private readonly db: Knex,
    private readonly options: ImportOptions,
    private readonly report: ImportReport,
    private readonly record: (r: Resource[], w: WriteResult) => void,
    private readonly pool: ValidationPool,
    private readonly advance: (bytes: number) => void,
  ) {}

  /** Queues a batch for validation; once two are waiting, waits until the oldest is being written. */
  async add(batch: NdjsonBatch): Promise<void> {
    const checked = this.pool.validate('ndjson', batch.lines);
    checked.catch(() => undefined); // rethrown when the batch is taken off the queue
    this.queued.push({ ...batch, checked });
    if (this.queued.length > 2) await this.writeNext();
  }

  /** Writes everything queued and waits for the last write. */
  async drain(): Promise<void> {
    while (this.queued.length) await this.writeNext();
    await this.writing;
    if (this.writeFailure) throw this.writeFailure.error;
  }

  private async writeNext(): Promise<void> {
    const batch = this.queued.shift()!;
    const errors = await batch.checked;
    const resources: Resource[] = [];
    errors.forEach((messages, i) => {
      if (messages.length) for (const message of messages) this.report.problems.push({ file: batch.file, location: `line ${batch.lineNos[i]}`, message });
      else resources.push(JSON.parse(batch.lines[i]!) as Resource);
    });
    await this.writing;
    if (this.writeFailure) throw this.writeFailure.error;
    this.writing = (async () => {
      if (resources.length) {
        await this.db.transaction(async (trx) => this.record(resources, await writeResources(trx, resources, this.options)));
      }
      this.advance(batch.bytes);
    })().catch((error: unknown) => {
      this.writeFailure ??= { error };
    });
  }
}

/** Conditional references (`Organization?identifier=sys|val`) to shared resources already stored. */
async function resolveConditional(trx: Knex, refs: Set<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ref of refs) {
    const m = /^([A-Z][A-Za-z]+)\?identifier=([^|]*)\|(.+)$/.exec(decodeURIComponent(ref));
    if (!m) continue;
    const [, type, system, value] = m as unknown as [string, string, string, string];
    const rows: { resource_id: string }[] = await trx('search_token')
      .select('resource_id')
      .where({ resource_type: type, param: 'identifier', code: value })
      .andWhere((q) => (system ? q.where('system', system) : q.whereNull('system')))
      .limit(2);
    if (rows.length === 1) out.set(ref, `${type}/${rows[0]!.resource_id}`);
  }
  return out;
}

class ImportAbort extends Error {}

/** Files to import, shared-resource bundles first (Synthea's hospital and practitioner files) and Provenance last. */
async function listFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  const out: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (/\.(json|ndjson)$/.test(entry.name)) out.push(full);
  }
  const rank = (f: string) => {
    const name = basename(f);
    if (/^(hospitalInformation|practitionerInformation)|^(Organization|Location|Practitioner|PractitionerRole|Medication)\.ndjson$/.test(name)) return 0;
    if (/^Patient\.ndjson$/.test(name)) return 1;
    if (/^Provenance\.ndjson$/.test(name)) return 3;
    return 2;
  };
  return out.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
