/**
 * Standing instructions that hold results as they arrive: the patient's own delay preferences
 * (REL-5) and enabled state-law rules (REL-6). A result "arrives" when a version of it is first
 * written with a status the release policy shows (REL-7); a later version (amended,
 * corrected) of a result already released is not an arrival, so an instruction made after a
 * result was shown never re-hides it. Runs in the writer's transaction: the result and its hold
 * commit together, so there is no instant in which a held result is visible.
 *
 * Import throughput (issue 2): one query per batch finds out whether any instruction could apply
 * (a patient of the batch with an active preference, or any enabled rule); only then is a result
 * matched against them.
 */
import type { Knex } from 'knex';
import type { CodeableConcept, DiagnosticReport, Observation, Reference, Resource } from '@medplum/fhirtypes';
import { DEFAULT_RELEASE_POLICY, enabledLegalHoldRules, placeConditionalHolds, releasedStatuses, type Coding, type ReleasePolicy } from '@patient-access/consent';

type Result = Observation | DiagnosticReport;

/**
 * A result this version releases for the first time under the organization's release policy (so
 * with preliminary results shown, the preliminary one): its status is released and the stored
 * one (if any) was not.
 */
export function isArrival(r: Resource, previousStatus: string | null | undefined, policy: ReleasePolicy = DEFAULT_RELEASE_POLICY): r is Result {
  if (r.resourceType !== 'Observation' && r.resourceType !== 'DiagnosticReport') return false;
  const released = releasedStatuses(policy)[r.resourceType];
  return released.includes(r.status ?? '') && !(previousStatus != null && released.includes(previousStatus));
}

/** ISO 3166-2 subdivision of a US address (`US-CA`), or undefined; other countries are not yet mapped. */
export function jurisdictionOf(patient: { address?: { use?: string; state?: string; country?: string }[] } | undefined): string | undefined {
  const addresses = patient?.address ?? [];
  const address = addresses.find((a) => a.use === 'home') ?? addresses.find((a) => a.use !== 'old') ?? undefined;
  const state = address?.state?.trim().toUpperCase();
  const country = address?.country?.trim().toUpperCase();
  if (!state || !/^[A-Z]{2}$/.test(state)) return undefined;
  return country === undefined || ['US', 'USA', 'UNITED STATES'].includes(country) ? `US-${state}` : undefined;
}

const codings = (concepts: readonly CodeableConcept[] | undefined): Coding[] =>
  (concepts ?? []).flatMap((c) => c.coding ?? []).flatMap((c) => (c.code ? [c.system ? { system: c.system, code: c.code } : { code: c.code }] : []));

const orderIds = (basedOn: readonly Reference[] | undefined): string[] =>
  (basedOn ?? []).flatMap((b) => (b.reference?.startsWith('ServiceRequest/') ? [b.reference.slice('ServiceRequest/'.length)] : []));

/** Places the holds the instructions call for on `arrivals` (results of `patients`, first released at `at`). */
export async function holdArrivingResults(trx: Knex, arrivals: { patientId: string; result: Result }[], at: Date): Promise<number> {
  if (arrivals.length === 0) return 0;
  const patients = [...new Set(arrivals.map((a) => a.patientId))];
  const { rows } = (await trx.raw(
    `select 'preference' as kind, p.patient_id, null as address from (select distinct patient_id from patient_delay_preference
        where status = 'active' and created_at <= ? and patient_id in (select jsonb_array_elements_text(?::jsonb))) p
     union all
     select 'patient', r.id, r.content->'address' from resource r
      where exists (select 1 from legal_hold_rule l where l.enabled and l.effective_from <= ? and l.expires_at > ?)
        and r.resource_type = 'Patient' and r.patient_id = r.id and r.id in (select jsonb_array_elements_text(?::jsonb))`,
    [at, JSON.stringify(patients), at, at, JSON.stringify(patients)],
  )) as { rows: { kind: 'preference' | 'patient'; patient_id: string; address: unknown }[] };
  if (rows.length === 0) return 0;
  const withPreferences = new Set(rows.filter((r) => r.kind === 'preference').map((r) => r.patient_id));
  const jurisdiction = new Map<string, string>();
  for (const r of rows) {
    const j = r.kind === 'preference' ? undefined : jurisdictionOf({ address: r.address as never });
    if (j) jurisdiction.set(r.patient_id, j);
  }
  // The codes each jurisdiction's enabled rules name, read once per batch: with a rule enabled, a
  // result it cannot match (nearly all of them) costs no query of its own.
  const ruleCodes = new Map<string, Set<string>>();
  for (const j of new Set(jurisdiction.values()))
    ruleCodes.set(j, new Set((await enabledLegalHoldRules(trx, j, at)).flatMap((rule) => rule.codes.map((c) => `${c.system}|${c.code}`))));
  let held = 0;
  for (const { patientId, result } of arrivals) {
    const j = jurisdiction.get(patientId);
    const codes = codings(result.code ? [result.code] : []);
    const ruleMayApply = j !== undefined && codes.some((c) => ruleCodes.get(j)!.has(`${c.system}|${c.code}`));
    if (!withPreferences.has(patientId) && !ruleMayApply) continue;
    const items = await placeConditionalHolds(trx, {
      patientId,
      resourceType: result.resourceType,
      resourceId: result.id!,
      categories: codings(result.category),
      codes,
      orderIds: orderIds(result.basedOn),
      ...(j ? { jurisdiction: j } : {}),
      at,
    });
    held += items.length;
  }
  return held;
}
