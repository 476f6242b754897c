/**
 * Group commit for the access log: request handlers call `write` and send their response only
 * when it resolves, i.e. once the entry is committed (AUD-1: no response without its entry);
 * entries arriving while an append is in flight go together in the next transaction, so a busy
 * server writes a few large batches instead of one transaction per request. A failed append
 * rejects every write in its batch (the handler answers 503, not the data). Entries are
 * validated on `write`, so one bad entry never fails the others in its batch.
 */
import type { Knex } from 'knex';
import { AccessLogHeads, appendAccessLog } from './access-log.js';
import { validateAccessLogEntry, type AccessLogEntry } from './access-log-types.js';

export interface AccessLogWriterOptions {
  /** Entries per transaction (default 500). */
  readonly maxBatch?: number;
  /** How long the first entry of a batch waits for company when nothing is in flight (default 1 ms). */
  readonly maxDelayMs?: number;
  /**
   * Concurrent appends (default 1). While one commits, the next batch gathers everything that
   * arrives: with one in flight the API served about 35 % more reads per second than with two
   * (scripts/bench/API-RESULTS.md, investigation runs), each commit being a WAL flush.
   */
  readonly maxInFlight?: number;
}

export interface AccessLogWriter {
  /** Resolves when the entries are committed. */
  write(entries: AccessLogEntry | readonly AccessLogEntry[]): Promise<void>;
  /** Resolves when everything written so far is committed (or has failed). */
  flush(): Promise<void>;
  /** Refuses further writes and flushes. */
  close(): Promise<void>;
}

interface Pending {
  readonly entries: readonly AccessLogEntry[];
  resolve(): void;
  reject(err: unknown): void;
}

export function createAccessLogWriter(db: Knex, options: AccessLogWriterOptions = {}): AccessLogWriter {
  const maxBatch = Math.max(1, options.maxBatch ?? 500);
  const maxDelayMs = Math.max(0, options.maxDelayMs ?? 1);
  const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  let queue: Pending[] = [];
  const busy = new Set<string>();
  let queued = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let idleWaiters: (() => void)[] = [];
  // Where this writer's chains ended: most batches are then one statement (appendAccessLog).
  const heads = new AccessLogHeads();

  const settleIdle = () => {
    if (queue.length === 0 && inFlight === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
    }
  };

  const kick = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    while (inFlight < maxInFlight && queue.length > 0) {
      // A patient with a batch in flight waits for it (it would wait for its chain head anyway):
      // this writer's batches for one chain then reach the database in order, and the next one
      // starts from the head the last one left (AccessLogHeads), not from a guess that may lose
      // the race to the head lock. Entries of one patient keep their order.
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      const patients = new Set<string>();
      const held = new Set<string>();
      let size = 0;
      for (const p of queue) {
        const mine = p.entries.map((e) => e.patientId);
        const fits = batch.length === 0 || size + p.entries.length <= maxBatch;
        if (!fits || mine.some((id) => busy.has(id) || held.has(id))) {
          rest.push(p);
          mine.forEach((id) => held.add(id));
          continue;
        }
        batch.push(p);
        size += p.entries.length;
        mine.forEach((id) => patients.add(id));
      }
      if (batch.length === 0) break;
      queue = rest;
      queued -= size;
      inFlight += 1;
      patients.forEach((id) => busy.add(id));
      appendAccessLog(
        db,
        batch.flatMap((p) => p.entries),
        { heads, validated: true }, // on write
      )
        .then(
          () => batch.forEach((p) => p.resolve()),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          inFlight -= 1;
          patients.forEach((id) => busy.delete(id));
          // Whatever queued meanwhile goes at once: it has already waited for this append.
          if (queue.length > 0) kick();
          else settleIdle();
        });
    }
  };

  const schedule = () => {
    if (queued >= maxBatch) kick();
    else if (!timer && inFlight < maxInFlight) timer = setTimeout(kick, maxDelayMs);
  };

  return {
    write(input) {
      const entries: readonly AccessLogEntry[] = Array.isArray(input) ? (input as readonly AccessLogEntry[]) : [input as AccessLogEntry];
      if (closed) return Promise.reject(new Error('access log writer is closed'));
      try {
        entries.forEach((e, i) => validateAccessLogEntry(e, i)); // AUD-1
      } catch (err) {
        return Promise.reject(err);
      }
      if (entries.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ entries, resolve, reject });
        queued += entries.length;
        schedule();
      });
    },
    flush() {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      const done = new Promise<void>((resolve) => idleWaiters.push(resolve));
      kick();
      return done;
    },
    async close() {
      closed = true;
      await this.flush();
    },
  };
}
