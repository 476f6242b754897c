/**
 * `npm run import`: FHIR R4 JSON Bundles (transaction, batch, collection), single resources, and
 * bulk-data ndjson files or folders. A bundle is all or nothing; ndjson lines are independent, so
 * one bad line (reported with file and line) never loses the valid ones. Re-importing the same
 * data changes nothing.
 */
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { writeResources, type WriteOptions, type WriteResult } from '../store/resource-writer.js';
import { resolveBundle, rewriteReferences } from './bundle-entries.js';
import { parseNdjsonLine, structureErrors } from './validate-resource.js';

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
  /**
   * Compartment-type resources stored in no patient's compartment (no local patient reference):
   * visible to no patient until a later import names one. Not a problem of the input as such, but
   * an operator must know: how many, and the first few by `Type/id`.
   */
  unassigned: { count: number; examples: string[] };
  seconds: number;
}

const UNASSIGNED_EXAMPLES = 20;

export interface ImportOptions extends WriteOptions {
  /** Called as bytes of input are processed. */
  onProgress?: (bytesDone: number, bytesTotal: number, resources: number) => void;
  /**
   * FHIR bases of the system the data is exported from (`--source-base`): an absolute reference
   * under one of them names a resource of this import, stored here by the same `Type/id`, and is
   * stored relative. Without them, such a reference is another server's (normalizeReference).
   */
  sourceBaseUrls?: readonly string[];
}

/** Absolute references under a declared source base, as the relative `Type/id…` they name here. */
function sourceReferences(bases: readonly string[] | undefined): ((r: Resource) => Resource) | undefined {
  const prefixes = (bases ?? []).map((b) => `${b.replace(/\/+$/, '')}/`);
  if (!prefixes.length) return undefined;
  const local = (ref: string) => {
    const prefix = prefixes.find((p) => ref.startsWith(p));
    return prefix ? ref.slice(prefix.length) : ref;
  };
  return (r) => rewriteReferences(r, local) as Resource;
}

/** ndjson lines per transaction (invalid lines included, blank lines not counted). */
const NDJSON_BATCH = 1000;
/**
 * Resources parsed and validated between two turns of the event loop (about 1 ms of work), so that
 * the write in flight keeps PostgreSQL busy while the next batch is checked.
 */
const CHECK_STEP = 100;

export async function importPath(db: Knex, path: string, options: ImportOptions = {}): Promise<ImportReport> {
  const started = process.hrtime.bigint();
  const files = await listFiles(path);
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const report: ImportReport = { files: files.length, resources: 0, byType: {}, created: 0, updated: 0, unchanged: 0, problems: [], unassigned: { count: 0, examples: [] }, seconds: 0 };
  let done = 0;
  const progress = () => options.onProgress?.(done, total, report.resources);
  const record = (resources: Resource[], result: WriteResult) => {
    report.resources += resources.length;
    report.created += result.created;
    report.updated += result.updated;
    report.unchanged += result.unchanged;
    report.unassigned.count += result.unassigned.length;
    report.unassigned.examples.push(...result.unassigned.slice(0, UNASSIGNED_EXAMPLES - report.unassigned.examples.length));
    for (const r of resources) report.byType[r.resourceType] = (report.byType[r.resourceType] ?? 0) + 1;
  };

  const ndjson = new NdjsonPipeline(db, options, report, record, (bytes) => {
    done += bytes;
    progress();
  });
  for (const [i, file] of files.entries()) {
    if (file.endsWith('.ndjson')) {
      await readNdjson(file, ndjson);
    } else {
      await ndjson.drain(); // files are imported in order: earlier ndjson batches are written first
      await importJsonFile(db, file, options, report, record);
      done += sizes[i]!;
      progress();
    }
  }
  await ndjson.drain();
  report.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return report;
}

async function importJsonFile(
  db: Knex,
  file: string,
  options: ImportOptions,
  report: ImportReport,
  record: (r: Resource[], w: WriteResult) => void,
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
  const localize = sourceReferences(options.sourceBaseUrls);
  if (localize) for (const r of resolved.resources) r.resource = localize(r.resource);
  const problems = [...resolved.problems];
  for (const [i, { index, resource }] of resolved.resources.entries()) {
    if (i > 0 && i % CHECK_STEP === 0) await yieldToEventLoop();
    for (const message of structureErrors(resource)) problems.push({ index, message });
  }
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
 * next one is read, parsed and validated on this thread (in steps that leave the event loop to the
 * write in flight). Each line is parsed once. Batches are written one after the other, in the
 * order they came, so a later line for the same resource still wins and a Provenance file (read
 * last) finds its targets stored. Problems are reported in line order.
 */
class NdjsonPipeline {
  private writing: Promise<void> = Promise.resolve();
  private writeFailure: { error: unknown } | undefined;
  private readonly localize: ((r: Resource) => Resource) | undefined;

  constructor(
    private readonly db: Knex,
    private readonly options: ImportOptions,
    private readonly report: ImportReport,
    private readonly record: (r: Resource[], w: WriteResult) => void,
    private readonly advance: (bytes: number) => void,
  ) {
    this.localize = sourceReferences(options.sourceBaseUrls);
  }

  /** Checks a batch, then waits for the previous write and starts this one's. */
  async add(batch: NdjsonBatch): Promise<void> {
    const resources: Resource[] = [];
    for (const [i, line] of batch.lines.entries()) {
      if (i > 0 && i % CHECK_STEP === 0) await yieldToEventLoop();
      const parsed = parseNdjsonLine(line);
      if (parsed.resource) resources.push(this.localize ? this.localize(parsed.resource) : parsed.resource);
      else for (const message of parsed.errors) this.report.problems.push({ file: batch.file, location: `line ${batch.lineNos[i]}`, message });
    }
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

  /** Waits for the last write. */
  async drain(): Promise<void> {
    await this.writing;
    if (this.writeFailure) throw this.writeFailure.error;
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
