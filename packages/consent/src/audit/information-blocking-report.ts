/**
 * The information-blocking report for compliance: for a period, every withheld item and every
 * denied request with its reason and exception code, and counts by code (AUD-2: a report for a
 * period; IB: proving an exception is the actor's burden, so every non-release is listed).
 * Rate-limit refusals and maintenance answers are denied requests with the health_it_performance
 * exception (IB-5, RL-1), so they appear here too.
 */
import type { Knex } from 'knex';
import type { AccessLogAction, ActorKind, BlockingException, WithheldReason } from './access-log-types.js';

export interface WithheldReportItem {
  readonly recordedAt: string;
  readonly patientId: string;
  readonly seq: number;
  readonly requestId: string | null;
  readonly action: AccessLogAction;
  readonly actorKind: ActorKind;
  readonly clientId: string | null;
  readonly delegationId: string | null;
  readonly ref: string;
  readonly reason: WithheldReason;
  readonly exception: BlockingException;
}

export interface DeniedReportItem {
  readonly recordedAt: string;
  readonly patientId: string;
  readonly seq: number;
  readonly requestId: string | null;
  readonly action: AccessLogAction;
  readonly actorKind: ActorKind;
  readonly clientId: string | null;
  readonly delegationId: string | null;
  readonly reason: string;
  readonly exception: BlockingException | null;
}

export interface ReportCount {
  readonly reason: string;
  readonly exception: string | null;
  readonly count: number;
}

export interface InformationBlockingReport {
  /** Inclusive. */
  readonly from: string;
  /** Exclusive. */
  readonly to: string;
  /** Every withheld item, oldest first. */
  readonly withheld: WithheldReportItem[];
  /** Every denied request, oldest first. */
  readonly denied: DeniedReportItem[];
  readonly counts: {
    readonly withheldByReason: ReportCount[];
    readonly deniedByReason: ReportCount[];
    readonly byException: { readonly exception: string | null; readonly withheld: number; readonly denied: number }[];
  };
}

interface ItemRow {
  recorded_at: Date | string;
  patient_id: string;
  seq: string | number;
  request_id: string | null;
  action: string;
  actor_kind: string;
  client_id: string | null;
  delegation_id: string | null;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

function countBy<T>(items: readonly T[], key: (t: T) => [string, string | null]): ReportCount[] {
  const counts = new Map<string, ReportCount>();
  for (const item of items) {
    const [reason, exception] = key(item);
    const k = JSON.stringify([reason, exception]);
    const c = counts.get(k);
    counts.set(k, { reason, exception, count: (c?.count ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason) || (a.exception ?? '').localeCompare(b.exception ?? ''));
}

export async function informationBlockingReport(db: Knex, period: { from: Date; to: Date }): Promise<InformationBlockingReport> {
  const { from, to } = period;
  if (!(from.getTime() < to.getTime())) throw new RangeError('the report period must have from < to');
  // AUD-1 / AUD-2: every withheld id with its exception code, for the period.
  const withheldRows = (await db.raw(
    `select l.recorded_at, l.patient_id, l.seq, l.request_id, l.action, l.actor_kind, l.client_id, l.delegation_id,
            w.item->>'ref' as ref, w.item->>'reason' as reason, w.item->>'exception' as exception
       from access_log l cross join lateral jsonb_array_elements(l.withheld) with ordinality as w(item, n)
      where l.recorded_at >= ? and l.recorded_at < ? and l.withheld <> '[]'::jsonb
      order by l.recorded_at, l.patient_id, l.seq, w.n`,
    [from, to],
  )) as { rows: (ItemRow & { ref: string; reason: string; exception: string })[] };
  const deniedRows = (await db.raw(
    `select recorded_at, patient_id, seq, request_id, action, actor_kind, client_id, delegation_id, reason, exception
       from access_log
      where recorded_at >= ? and recorded_at < ? and outcome = 'denied'
      order by recorded_at, patient_id, seq`,
    [from, to],
  )) as { rows: (ItemRow & { reason: string; exception: string | null })[] };

  const base = (r: ItemRow) => ({
    recordedAt: iso(r.recorded_at),
    patientId: r.patient_id,
    seq: Number(r.seq),
    requestId: r.request_id,
    action: r.action as AccessLogAction,
    actorKind: r.actor_kind as ActorKind,
    clientId: r.client_id,
    delegationId: r.delegation_id,
  });
  const withheld: WithheldReportItem[] = withheldRows.rows.map((r) => ({
    ...base(r),
    ref: r.ref,
    reason: r.reason as WithheldReason,
    exception: r.exception as BlockingException,
  }));
  const denied: DeniedReportItem[] = deniedRows.rows.map((r) => ({ ...base(r), reason: r.reason, exception: r.exception as BlockingException | null }));

  const byException = new Map<string | null, { exception: string | null; withheld: number; denied: number }>();
  const bump = (exception: string | null, field: 'withheld' | 'denied') => {
    const e = byException.get(exception) ?? { exception, withheld: 0, denied: 0 };
    e[field] += 1;
    byException.set(exception, e);
  };
  withheld.forEach((w) => bump(w.exception, 'withheld'));
  denied.forEach((d) => bump(d.exception, 'denied'));

  return {
    from: from.toISOString(),
    to: to.toISOString(),
    withheld,
    denied,
    counts: {
      withheldByReason: countBy(withheld, (w) => [w.reason, w.exception]),
      deniedByReason: countBy(denied, (d) => [d.reason, d.exception]),
      byException: [...byException.values()].sort((a, b) => b.withheld + b.denied - (a.withheld + a.denied) || (a.exception ?? '').localeCompare(b.exception ?? '')),
    },
  };
}
