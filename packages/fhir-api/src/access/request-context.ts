/**
 * What every FHIR request must know about its token's grant before it touches data, in one round
 * trip: the grant, its account and delegation (API-3, PRX-6), the patient's birth date (PRX-3/4
 * age rules), the patient's restrictions in force (IB-1), the patient's disclosure consents naming
 * the grant's account (IB-2), and the patient's access epoch, the
 * counter that every change to any of these moves forward in the same transaction (consent
 * migration 202611260001). The context is kept in memory (token-access.ts) and every PHI
 * statement checks its epoch in SQL (access-epoch.ts), so a revocation, an ended delegation or a
 * new restriction committed anywhere applies to the very next statement (PORTAL-US-013).
 */
import type { Knex } from 'knex';
import {
  ACTIVE_DISCLOSURE_CONSENT_COLUMNS,
  ACTIVE_RESTRICTION_COLUMNS,
  disclosureConsentFromRow,
  grantInForceQuery,
  preparedFirst,
  restrictionFromRow,
  type ActiveDisclosureConsentRow,
  type ActiveRestrictionRow,
  type DisclosureConsent,
  type GrantContextRow,
  type Restriction,
} from '@patient-access/consent';

/** The stored facts, not yet judged: `grantDecision` and the access plan run on every request, at its own time. */
export interface RequestContext {
  row: GrantContextRow;
  patientBirthDate: string | undefined;
  restrictions: Restriction[];
  /**
   * The patient's consents not revoked naming the grant's account: only a proxy's own can open
   * anything to it (IB-2). Expired ones are kept: the plan judges expiry at each request's instant,
   * so a consent lapses on time with no epoch change (42 CFR 2.31(a)(6)).
   */
  disclosureConsents: DisclosureConsent[];
  /** The patient's access epoch when these facts were read (a bigint, kept as its decimal text). */
  epoch: string;
  /**
   * Whether the patient had any release hold item, in force or not, when these facts were read.
   * Hold items move the epoch (consent migration 202612070001), so while the epoch stands a
   * patient without any has none, and statements may leave the hold check out.
   */
  holdItems: boolean;
}

type ContextRow = GrantContextRow & { birth_date: string | null; restrictions: string | null; disclosure_consents: string | null; access_epoch: string | number; hold_items: boolean };

/** The restriction columns as JSON object pairs, built once (column names are constants, never input). */
const RESTRICTION_JSON = ACTIVE_RESTRICTION_COLUMNS.map((c) => `'${c}', x.${c}`).join(', ');
const CONSENT_JSON = ACTIVE_DISCLOSURE_CONSENT_COLUMNS.map((c) => `'${c}', c.${c}`).join(', ');

/** The context of a grant, or undefined for a grant that does not exist. */
export async function loadRequestContext(db: Knex, grantId: string): Promise<RequestContext | undefined> {
  const query = grantInForceQuery(db, grantId).select(
    db.raw(`(select p.content->>'birthDate' from resource p where p.patient_id = g.patient_id and p.resource_type = 'Patient' and p.id = g.patient_id) as birth_date`),
    // As text, parsed here: the embedded and the pg drivers then agree on the shape.
    db.raw(`(select json_agg(json_build_object(${RESTRICTION_JSON}))::text from patient_restriction x where x.patient_id = g.patient_id and x.status = 'active') as restrictions`),
    db.raw(
      `(select json_agg(json_build_object(${CONSENT_JSON}))::text from disclosure_consent c where c.patient_id = g.patient_id and c.proxy_account_id = g.account_id and c.revoked_at is null) as disclosure_consents`,
    ),
    // Read in the same snapshot as the facts above: the epoch they are current for.
    db.raw(`coalesce((select e.epoch from access_epoch e where e.patient_id = g.patient_id), 0)::text as access_epoch`),
    db.raw(`exists (select 1 from release_hold_item h where h.patient_id = g.patient_id) as hold_items`),
  );
  const row = await preparedFirst<ContextRow>(db, query);
  if (!row) return undefined;
  const { birth_date, restrictions, disclosure_consents, access_epoch, hold_items, ...grantRow } = row;
  return {
    row: grantRow,
    patientBirthDate: birth_date ?? undefined,
    restrictions: restrictions ? (JSON.parse(restrictions) as ActiveRestrictionRow[]).map(restrictionFromRow) : [],
    disclosureConsents: disclosure_consents ? (JSON.parse(disclosure_consents) as ActiveDisclosureConsentRow[]).map(disclosureConsentFromRow) : [],
    epoch: String(access_epoch),
    holdItems: hold_items !== false,
  };
}
