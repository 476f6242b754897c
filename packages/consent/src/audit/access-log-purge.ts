/**
 * Retention of the access log (AUD-4): configuration (default 10 years, never under 6) and the
 * purge job. The purge removes, from the front of each patient's chain, the rows recorded before
 * the cutoff, up to the first row that is younger (a row recorded out of time order stops it, so
 * it never removes a younger row and never leaves a hole). For each chain it first records a
 * checkpoint (the seq and hash of the last row removed), to which the first remaining row links,
 * so verification still passes afterwards. It works through the chains in batches, each in its
 * own transaction holding the heads of its patients, and logs each run in the '' chain.
 *
 * The delete path: inside its transaction the purge sets `patient_access.access_log_purge = 'on'`
 * (transaction-local); the table's trigger then lets a DELETE through only for rows that a
 * checkpoint covers and that are over 6 years old by the database clock. Nothing else sets it.
 */
import type { Knex } from 'knex';
import { appendAccessLog } from './access-log.js';

/** 45 CFR 164.316(b)(2): 6 years; the floor the table's trigger also enforces. */
export const MIN_ACCESS_LOG_RETENTION_YEARS = 6;
/** ASTM E2147-18 §4.1 (incorporated by 170.210(h)): at least 10 years. */
export const DEFAULT_ACCESS_LOG_RETENTION_YEARS = 10;

export class AccessLogRetentionError extends Error {
  readonly rule = 'AUD-4';
  constructor(message: string) {
    super(`${message} (AUD-4)`);
    this.name = 'AccessLogRetentionError';
  }
}

/** AUD-4: retention is whole years, at least 6 (default 10). */
export function validateAccessLogRetention(years: number): void {
  if (!Number.isInteger(years) || years < MIN_ACCESS_LOG_RETENTION_YEARS || years > 200) {
    throw new AccessLogRetentionError(`access log retention must be a whole number of years from ${MIN_ACCESS_LOG_RETENTION_YEARS} to 200, got ${years}`);
  }
}

/** The instant `years` calendar years before `now` (UTC). */
export function retentionCutoff(now: Date, years: number): Date {
  const d = new Date(now.getTime());
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return d;
}

export interface PurgeOptions {
  /** Remove rows recorded before this instant; default (and latest allowed): now minus the retention. */
  readonly olderThan?: Date;
  /** Default 10. */
  readonly retentionYears?: number;
  readonly now?: Date;
  /** Chains per transaction. */
  readonly batchSize?: number;
}

export interface PurgeResult {
  readonly cutoff: Date;
  readonly purgedRows: number;
  /** Chains that lost rows. */
  readonly chains: number;
  /** Chains left alone because the last row to remove is already missing (verify reports them). */
  readonly skipped: readonly string[];
}

/** AUD-4: deletes rows older than the retention (never younger) and keeps every chain verifiable. */
export async function purgeAccessLog(db: Knex, options: PurgeOptions = {}): Promise<PurgeResult> {
  const retentionYears = options.retentionYears ?? DEFAULT_ACCESS_LOG_RETENTION_YEARS;
  validateAccessLogRetention(retentionYears); // AUD-4
  const now = options.now ?? new Date();
  const latest = retentionCutoff(now, retentionYears);
  const cutoff = options.olderThan ?? latest;
  if (!(cutoff instanceof Date) || !Number.isFinite(cutoff.getTime())) throw new AccessLogRetentionError('olderThan must be a valid Date');
  // AUD-4: never delete rows younger than the retention.
  if (cutoff.getTime() > latest.getTime()) {
    throw new AccessLogRetentionError(`olderThan ${cutoff.toISOString()} is within the ${retentionYears}-year retention (latest allowed ${latest.toISOString()})`);
  }
  const batchSize = options.batchSize ?? 500;
  let purgedRows = 0;
  let chains = 0;
  const skipped: string[] = [];
  let after: string | undefined;

  for (;;) {
    const batch = await db.transaction(async (trx) => {
      let q = trx('access_log_head').select('patient_id', 'seq').orderBy('patient_id').limit(batchSize).forUpdate();
      if (after !== undefined) q = q.where('patient_id', '>', after);
      const heads = (await q) as { patient_id: string; seq: string | number }[];
      if (heads.length === 0) return { heads: 0, last: after };
      const ids = heads.map((h) => h.patient_id);
      const marks = ids.map(() => '?').join(', ');
      // For each chain: the last checkpoint, and the first row that is not old enough.
      const plans = (await trx.raw(
        `select h.patient_id, h.seq as head_seq,
                coalesce((select max(c.through_seq) from access_log_checkpoint c where c.patient_id = h.patient_id), 0) as from_seq,
                (select min(l.seq) from access_log l where l.patient_id = h.patient_id and l.recorded_at >= ?) as first_young
           from access_log_head h where h.patient_id in (${marks})`,
        [cutoff, ...ids],
      )) as { rows: { patient_id: string; head_seq: string | number; from_seq: string | number; first_young: string | number | null }[] };
      const ranges = plans.rows
        .map((p) => ({ patientId: p.patient_id, from: Number(p.from_seq), through: p.first_young === null ? Number(p.head_seq) : Number(p.first_young) - 1 }))
        .filter((r) => r.through > r.from);
      if (ranges.length === 0) return { heads: heads.length, last: ids[ids.length - 1] };

      const values = ranges.map(() => '(?, ?::bigint, ?::bigint)').join(', ');
      const bindings = ranges.flatMap((r) => [r.patientId, r.from, r.through]);
      const found = (await trx.raw(
        `select l.patient_id, count(*) as n, max(case when l.seq = v.through_seq then l.hash end) as hash
           from access_log l join (values ${values}) as v(patient_id, from_seq, through_seq)
             on l.patient_id = v.patient_id and l.seq > v.from_seq and l.seq <= v.through_seq
          group by l.patient_id`,
        bindings,
      )) as { rows: { patient_id: string; n: string | number; hash: string | null }[] };
      const foundOf = new Map(found.rows.map((f) => [f.patient_id, f]));
      const doable = ranges.filter((r) => {
        const f = foundOf.get(r.patientId);
        if (f?.hash) return true;
        skipped.push(r.patientId);
        return false;
      });
      if (doable.length === 0) return { heads: heads.length, last: ids[ids.length - 1] };

      await trx('access_log_checkpoint').insert(
        doable.map((r) => ({
          patient_id: r.patientId,
          through_seq: r.through,
          hash: foundOf.get(r.patientId)!.hash,
          cutoff,
          purged_rows: Number(foundOf.get(r.patientId)!.n),
          purged_at: now,
        })),
      );
      // AUD-4: the trigger's purge path, for this transaction only.
      await trx.raw(`select set_config('patient_access.access_log_purge', 'on', true)`);
      await trx.raw(
        `delete from access_log l using (values ${doable.map(() => '(?, ?::bigint, ?::bigint)').join(', ')}) as v(patient_id, from_seq, through_seq)
          where l.patient_id = v.patient_id and l.seq > v.from_seq and l.seq <= v.through_seq`,
        doable.flatMap((r) => [r.patientId, r.from, r.through]),
      );
      await trx.raw(`select set_config('patient_access.access_log_purge', 'off', true)`);
      // The heads are locked, so the rows counted above are exactly the rows deleted.
      purgedRows += doable.reduce((n, r) => n + Number(foundOf.get(r.patientId)!.n), 0);
      chains += doable.length;
      return { heads: heads.length, last: ids[ids.length - 1] };
    });
    after = batch.last;
    if (batch.heads < batchSize) break;
  }

  // AUD-4: each purge is itself logged.
  await appendAccessLog(
    db,
    [
      {
        patientId: '',
        at: now,
        actor: { kind: 'system', id: 'access-log-purge' },
        action: 'audit.purge',
        outcome: 'success',
        detail: { cutoff: cutoff.toISOString(), retention_years: retentionYears, purged_rows: purgedRows, chains, skipped: skipped.length },
      },
    ],
    { now: () => now },
  );
  return { cutoff, purgedRows, chains, skipped };
}
