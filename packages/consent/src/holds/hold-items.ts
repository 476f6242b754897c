/**
 * release_hold_item: the one table the FHIR API consults for holds (see the migration
 * 202611230002_create_release_holds for the columns and the SQL). This module holds the pure
 * predicate, the SQL that mirrors it, and the writes every hold kind shares.
 */
import type { Knex } from 'knex';
import type { HarmType, HoldKind } from '../policy/access-plan.js';
import type { ActiveHold } from '../policy/decide.js';
import { toDate, toDateOrNull, type ResourceKey } from './errors.js';

export type HoldCondition = 'after_duration' | 'until_clinician_release' | 'until_discussed' | 'max_duration';
export type ReleaseReason = 'lifted' | 'review-lifted' | 'fixed' | 'clinician-released' | 'discussed' | 'cancelled-by-patient' | 'rule-disabled';

export interface HoldItem {
  readonly patientId: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly kind: HoldKind;
  /** The id of the harm_hold, data_quality_hold, patient_delay_preference or legal_hold_rule. */
  readonly sourceId: string;
  readonly harmType: HarmType | null;
  readonly condition: HoldCondition | null;
  readonly heldFrom: Date;
  /** The hard end: expiry, the agreed delay, or the maximum. */
  readonly releaseAt: Date;
  readonly releasedAt: Date | null;
  readonly releasedBy: string | null;
  readonly releaseReason: ReleaseReason | null;
}

/**
 * The pure definition of "this hold withholds at `at`": started, not past its end, not released.
 * Half-open on both ends, like the SQL: visible again at exactly release_at or released_at.
 */
export function isHoldItemActive(item: Pick<HoldItem, 'heldFrom' | 'releaseAt' | 'releasedAt'>, at: Date): boolean {
  const t = at.getTime();
  return item.heldFrom.getTime() <= t && item.releaseAt.getTime() > t && (item.releasedAt === null || item.releasedAt.getTime() > t);
}

/** The active holds of one resource, in the shape decideResource takes as facts. */
export function activeHoldsAt(items: readonly HoldItem[], resource: ResourceKey, at: Date): ActiveHold[] {
  return items
    .filter((i) => i.resourceType === resource.resourceType && i.resourceId === resource.resourceId && isHoldItemActive(i, at))
    .map((i) => (i.harmType === null ? { kind: i.kind, id: i.sourceId } : { kind: i.kind, harmType: i.harmType, id: i.sourceId }));
}

export interface SqlFragment {
  sql: string;
  bindings: Knex.Value[];
}

/** `isHoldItemActive` in SQL over the hold row alias `h`, with `at` bound. */
export function activeHoldItemWhere(at: Date, alias = 'h'): SqlFragment {
  return {
    sql: `${alias}.held_from <= ? and ${alias}.release_at > ? and (${alias}.released_at is null or ${alias}.released_at > ?)`,
    bindings: [at, at, at],
  };
}

/**
 * `exists (…)` true when the resource row `resourceAlias` (columns patient_id, resource_type,
 * id, as in the resource table) has an active hold of one of `kinds` that binds this reader;
 * the API ANDs `not <this>` into every query for a granted plan (plan.holds, plan.harmTypes).
 */
export function activeHoldExistsSql(opts: { kinds: readonly HoldKind[]; harmTypes: readonly HarmType[]; at: Date; resourceAlias?: string }): SqlFragment {
  const r = opts.resourceAlias ?? 'r';
  if (opts.kinds.length === 0) return { sql: 'false', bindings: [] };
  const active = activeHoldItemWhere(opts.at, 'h');
  const harm = opts.harmTypes.length === 0 ? "h.kind <> 'harm'" : `(h.kind <> 'harm' or h.harm_type in (${opts.harmTypes.map(() => '?').join(', ')}))`;
  return {
    sql:
      `exists (select 1 from release_hold_item h where h.patient_id = ${r}.patient_id and h.resource_type = ${r}.resource_type and h.resource_id = ${r}.id` +
      ` and h.kind in (${opts.kinds.map(() => '?').join(', ')}) and ${harm} and ${active.sql})`,
    bindings: [...opts.kinds, ...opts.harmTypes, ...active.bindings],
  };
}

interface HoldItemRow {
  patient_id: string;
  resource_type: string;
  resource_id: string;
  kind: HoldKind;
  source_id: string;
  harm_type: HarmType | null;
  condition: HoldCondition | null;
  held_from: Date | string;
  release_at: Date | string;
  released_at: Date | string | null;
  released_by: string | null;
  release_reason: ReleaseReason | null;
}

export function holdItemFromRow(row: HoldItemRow): HoldItem {
  return {
    patientId: row.patient_id,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    kind: row.kind,
    sourceId: row.source_id,
    harmType: row.harm_type,
    condition: row.condition,
    heldFrom: toDate(row.held_from),
    releaseAt: toDate(row.release_at),
    releasedAt: toDateOrNull(row.released_at),
    releasedBy: row.released_by,
    releaseReason: row.release_reason,
  };
}

/** Every item of a patient (optionally one resource), active or not: for admin views and tests. */
export async function listHoldItems(db: Knex, patientId: string, resource?: ResourceKey): Promise<HoldItem[]> {
  const q = db<HoldItemRow>('release_hold_item').where({ patient_id: patientId });
  if (resource) q.andWhere({ resource_type: resource.resourceType, resource_id: resource.resourceId });
  const rows = await q.orderBy(['resource_type', 'resource_id', 'kind', 'source_id']);
  return rows.map(holdItemFromRow);
}

/** The items that withhold at `at` for one patient, by the SQL predicate (the API's view). */
export async function listActiveHoldItems(db: Knex, patientId: string, at: Date): Promise<HoldItem[]> {
  const active = activeHoldItemWhere(at, 'release_hold_item');
  const rows = await db<HoldItemRow>('release_hold_item')
    .where({ patient_id: patientId })
    .andWhereRaw(active.sql, active.bindings)
    .orderBy(['resource_type', 'resource_id', 'kind', 'source_id']);
  return rows.map(holdItemFromRow);
}

export interface NewHoldItem {
  resourceType: string;
  resourceId: string;
  kind: HoldKind;
  sourceId: string;
  harmType?: HarmType;
  condition?: HoldCondition;
  heldFrom: Date;
  releaseAt: Date;
}

/** Inserts items; an item that already exists keeps its original window (no extension by re-delivery). */
export async function insertHoldItems(db: Knex, patientId: string, items: readonly NewHoldItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const rows = items.map((i) => ({
    patient_id: patientId,
    resource_type: i.resourceType,
    resource_id: i.resourceId,
    kind: i.kind,
    source_id: i.sourceId,
    harm_type: i.harmType ?? null,
    condition: i.condition ?? null,
    held_from: i.heldFrom,
    release_at: i.releaseAt,
  }));
  const inserted = await db('release_hold_item').insert(rows).onConflict(['patient_id', 'resource_type', 'resource_id', 'kind', 'source_id']).ignore().returning('resource_id');
  return inserted.length;
}

/** Releases the still-unreleased items of one source at `at` (lift, cancel, disable). */
export async function releaseItemsOfSource(db: Knex, patientId: string | undefined, kind: HoldKind, sourceId: string, at: Date, by: string, reason: ReleaseReason): Promise<number> {
  // Items already past their end were released then: only those still holding are stamped (and counted).
  const q = db('release_hold_item').where({ kind, source_id: sourceId }).whereNull('released_at').andWhere('release_at', '>', at);
  if (patientId !== undefined) q.andWhere({ patient_id: patientId });
  return q.update({ released_at: at, released_by: by, release_reason: reason });
}
