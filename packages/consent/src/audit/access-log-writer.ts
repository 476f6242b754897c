/**
 * Group commit for the access log: request handlers call `write` and send their response only
 * when it resolves, i.e. once the entry is committed (AUD-1: no response without its entry);
 * entries arriving while an append is in flight go together in the next transaction, so a busy
 * server writes a few large batches instead of one transaction per request. A failed append
 * rejects every write in its batch (the handler answers 503, not the data). Entries are
 * validated on `write`, so one bad entry never fails the others in its batch.
 */
import type { Knex } from 'knex';
import { appendAccessLog } from './access-log.js';
import { validateAccessLogEntry, type AccessLogEntry } from './access-log-types.js';

export interface AccessLogWriterOptions {
  /** Entries per transaction (default 500). */
  readonly maxBatch?: number;
  /** How long the first entry of a batch waits for company when nothing is in flight (default 1 ms). */
  readonly maxDelayMs?: number;
  /** Concurrent append transactions (default 2; 1 on the single-connection embedded database is fine too). */
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
  const maxInFlight = Math.max(1, options.maxInFlight ?? 2);
  const queue: Pending[] = [];
  let queued = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

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
      const batch: Pending[] = [];
      let size = 0;
      while (queue.length > 0 && (batch.length === 0 || size + queue[0]!.entries.length <= maxBatch)) {
        const p = queue.shift()!;
        batch.push(p);
        size += p.entries.length;
      }
      queued -= size;
      inFlight += 1;
      appendAccessLog(
        db,
        batch.flatMap((p) => p.entries),
      )
        .then(
          () => batch.forEach((p) => p.resolve()),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          inFlight -= 1;
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
