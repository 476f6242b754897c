/**
 * What every FHIR request must know about its token's grant before it touches data, in one round
 * trip: the grant, its account and delegation (API-3, PRX-6), the patient's birth date (PRX-3/4
 * age rules) and the patient's restrictions in force (IB-1). Read on every request, uncached, so a
 * revocation, an ended delegation or a new restriction applies to the very next request
 * (PORTAL-US-013). One prepared statement instead of three: statements, not rows, are what a
 * request pays for (scripts/bench/API-RESULTS.md).
 */
import type { Knex } from 'knex';
import {
  ACTIVE_RESTRICTION_COLUMNS,
  grantDecision,
  grantInForceQuery,
  preparedFirst,
  restrictionFromRow,
  type ActiveRestrictionRow,
  type GrantContextRow,
  type GrantDenial,
  type GrantInForce,
  type Restriction,
} from '@patient-access/consent';

export type RequestContext =
  | { denied: GrantDenial }
  | (GrantInForce & {
      patientBirthDate: string | undefined;
      restrictions: Restriction[];
    });

type ContextRow = GrantContextRow & { birth_date: string | null; restrictions: string | null };

/** The restriction columns as JSON object pairs, built once (column names are constants, never input). */
const RESTRICTION_JSON = ACTIVE_RESTRICTION_COLUMNS.map((c) => `'${c}', x.${c}`).join(', ');

export async function loadRequestContext(db: Knex, grantId: string, at: Date): Promise<RequestContext> {
  const query = grantInForceQuery(db, grantId).select(
    db.raw(`(select p.content->>'birthDate' from resource p where p.patient_id = g.patient_id and p.resource_type = 'Patient' and p.id = g.patient_id) as birth_date`),
    // As text, parsed here: the embedded and the pg drivers then agree on the shape.
    db.raw(`(select json_agg(json_build_object(${RESTRICTION_JSON}))::text from patient_restriction x where x.patient_id = g.patient_id and x.status = 'active') as restrictions`),
  );
  const row = await preparedFirst<ContextRow>(db, query);
  const decision = grantDecision(row, at);
  if ('denied' in decision) return decision;
  const restrictions = row!.restrictions ? (JSON.parse(row!.restrictions) as ActiveRestrictionRow[]) : [];
  return { ...decision, patientBirthDate: row!.birth_date ?? undefined, restrictions: restrictions.map(restrictionFromRow) };
}
