/**
 * Validation off the importing thread. FHIR structure validation costs more CPU than writing a
 * resource, so the importer hands it to worker threads (validate-resource.ts is their entry point)
 * and meanwhile parses, extracts search rows and talks to the database on its own thread.
 *
 * With `threads: 0` validation runs on the calling thread, in small steps that leave the event loop
 * free between them, so database work in flight still makes progress. Small requests are validated
 * there too: a round trip to a thread is not worth it for a handful of resources.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Resource } from '@medplum/fhirtypes';
import {
  VALIDATION_WORKER_ROLE,
  VALIDATION_WORKER_URL,
  structureErrors,
  validateTexts,
  type ValidationRequest,
  type ValidationResponse,
} from './validate-resource.js';

/** Texts validated on the calling thread between two turns of the event loop. */
const INLINE_STEP = 25;
/** Requests up to this size are validated on the calling thread. */
const INLINE_MAX = 50;

interface Job {
  resolve(errors: string[][]): void;
  reject(err: unknown): void;
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Texts sent and not answered yet. */
  load: number;
}

export class ValidationPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;
  private failure: unknown;
  private closed = false;

  /**
   * @param threads worker threads (0: validate on the calling thread). They start at once: each
   * takes about a second of CPU to load the FHIR definitions, so use them for large inputs only.
   */
  constructor(private readonly threads: number) {
    if (threads > 0) this.start();
  }

  /** Problems per text (empty when valid), in the order of `texts`. */
  async validate(kind: ValidationRequest['kind'], texts: string[]): Promise<string[][]> {
    if (!texts.length) return [];
    if (this.threads <= 0 || texts.length <= INLINE_MAX) return validateInline(kind, texts);
    // Split across the threads, so that one batch keeps every thread busy.
    const size = Math.ceil(texts.length / this.workers.length);
    const parts: Promise<string[][]>[] = [];
    for (let i = 0; i < texts.length; i += size) parts.push(this.send(kind, texts.slice(i, i + size)));
    return (await Promise.all(parts)).flat();
  }

  /** Structure problems per resource (a Bundle's entries), in order. */
  async validateResources(resources: Resource[]): Promise<string[][]> {
    if (this.threads <= 0 || resources.length <= INLINE_MAX) {
      const out: string[][] = [];
      for (let i = 0; i < resources.length; i += INLINE_STEP) {
        if (i > 0) await yieldToEventLoop();
        for (const r of resources.slice(i, i + INLINE_STEP)) out.push(structureErrors(r));
      }
      return out;
    }
    return this.validate('resources', resources.map((r) => JSON.stringify(r)));
  }

  /** Stops the threads; pending validations are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const closed = new Error('validation pool is closed');
    for (const w of this.workers) {
      for (const job of w.jobs.values()) job.reject(closed);
      w.jobs.clear();
    }
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }

  private start(): void {
    for (let i = 0; i < this.threads; i++) {
      const entry: PoolWorker = { worker: new Worker(VALIDATION_WORKER_URL, { workerData: VALIDATION_WORKER_ROLE }), jobs: new Map(), load: 0 };
      entry.worker.on('message', (message: ValidationResponse) => {
        const job = entry.jobs.get(message.id);
        if (!job) return;
        entry.jobs.delete(message.id);
        job.resolve(message.errors);
      });
      const fail = (err: unknown) => {
        this.failure ??= err;
        for (const job of entry.jobs.values()) job.reject(err);
        entry.jobs.clear();
      };
      entry.worker.on('error', fail);
      entry.worker.on('exit', (code) => {
        if (!this.closed) fail(new Error(`validation worker exited with code ${code}`));
      });
      this.workers.push(entry);
    }
  }

  private send(kind: ValidationRequest['kind'], texts: string[]): Promise<string[][]> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('validation pool is closed'));
    const entry = this.workers.reduce((a, b) => (b.load < a.load ? b : a));
    const id = this.nextId++;
    entry.load += texts.length;
    return new Promise<string[][]>((resolve, reject) => {
      entry.jobs.set(id, { resolve, reject });
      const request: ValidationRequest = { id, kind, texts };
      entry.worker.postMessage(request);
    }).finally(() => {
      entry.load -= texts.length;
    });
  }
}

async function validateInline(kind: ValidationRequest['kind'], texts: string[]): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < texts.length; i += INLINE_STEP) {
    if (i > 0) await yieldToEventLoop();
    out.push(...validateTexts(kind, texts.slice(i, i + INLINE_STEP)));
  }
  return out;
}
