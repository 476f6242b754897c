/**
 * Why each withheld resource was withheld, for the access log (AUD-1: the ids withheld with their
 * exception code; the information-blocking report reads them). The SQL decided what was withheld
 * (ResourceStore.withheldMatches); this names the reason with the consent package's own decision
 * for the resource's facts (its row tokens and active holds), so the log and the policy speak
 * the same codes. A resource the facts alone would show was withheld for what it references or
 * for the report that names it: reported as such.
 */
import type { Knex } from 'knex';
import { activeHoldsAt, decideResource, listActiveHoldItems, type Coding, type GrantedPlan, type Interaction, type WithheldItem } from '@patient-access/consent';
import type { Filter } from '../search/search-request.js';
import type { ResourceStore, WithheldMatch } from '../store/resource-store.js';
import { accessScope, type AccessInputs } from './access-filters.js';

/** At most this many withheld ids per entry: a search of a large record names the first ones (by id). */
export const WITHHELD_LOG_LIMIT = 500;

/**
 * What a read, search or $everything under this token left out and why: the resources of these
 * types matching `filters` in the token's compartment that its scopes cover (or any, with
 * outsideScopes: for a read by id) and the access plan withholds; the first WITHHELD_LOG_LIMIT,
 * type by type in the given order.
 */
export async function explainWithheld(
  db: Knex,
  store: ResourceStore,
  token: AccessInputs,
  types: string | readonly string[],
  filters: Filter[],
  interaction: Interaction,
  o: { outsideScopes?: boolean } = {},
): Promise<WithheldItem[]> {
  const scope = accessScope(token, interaction);
  const rows: WithheldMatch[] = [];
  for (const type of typeof types === 'string' ? [types] : types) {
    if (rows.length >= WITHHELD_LOG_LIMIT) break;
    rows.push(...(await store.withheldMatches(type, filters, scope, { ...o, limit: WITHHELD_LOG_LIMIT - rows.length })));
  }
  return withheldItems(db, token.plan, token.patientId, rows, token.at);
}

/** The facts decideResource needs, from a row's tokens (`param|system|code` or `param|code`; see row-tokens.ts). */
export function factsFromRowTokens(resourceType: string, tokens: readonly string[]): { resourceType: string; status?: string; categories: Coding[]; securityLabels: Coding[] } {
  const categories: Coding[] = [];
  const securityLabels: Coding[] = [];
  let status: string | undefined;
  for (const token of tokens) {
    const parts = token.split('|').map(decodeURIComponent);
    if (parts[1] === '*') continue; // the any-system form repeats an exact one
    const coding: Coding = parts.length === 3 ? { system: parts[1]!, code: parts[2]! } : { code: parts[1]! };
    if (parts[0] === 'status') status = coding.code;
    else if (parts[0] === 'category') categories.push(coding);
    else if (parts[0] === '_security') securityLabels.push(coding);
  }
  return { resourceType, ...(status !== undefined ? { status } : {}), categories, securityLabels };
}

export async function withheldItems(db: Knex, plan: GrantedPlan, patientId: string, rows: readonly WithheldMatch[], at: Date): Promise<WithheldItem[]> {
  if (!rows.length) return [];
  const holds = plan.holds.length ? await listActiveHoldItems(db, patientId, at) : [];
  return rows.map((row): WithheldItem => {
    if (!row.inScope) return { ref: row.ref, reason: 'scope' };
    const [type, id] = row.ref.split('/') as [string, string];
    const facts = { ...factsFromRowTokens(type, row.rowTokens), activeHolds: activeHoldsAt(holds, { resourceType: type, resourceId: id }, at) };
    const decision = decideResource(plan, facts);
    if (!decision.visible) return { ref: row.ref, reason: decision.reason };
    // Hidden by what it references (a labelled or restricted resource), or held through its report.
    const reportHolds = type === 'Observation' ? holds.filter((h) => h.resourceType === 'DiagnosticReport') : [];
    if (reportHolds.length) return { ref: row.ref, reason: heldReportReason(reportHolds) };
    // It would reveal a labelled resource to a limited proxy, or a restricted one: that limit's reason.
    if (plan.level === 'limited') return { ref: row.ref, reason: plan.levelReason === 'proxy-delegation-limited' ? 'proxy-delegation-limited' : 'proxy-age-limited' };
    if (plan.restrictions.length) return { ref: row.ref, reason: 'restriction' };
    // IB-2 (45 CFR 171.202(b)): with no limit and no restriction, only a consent-required label can be
    // what it references; a Provenance may instead be one whose every target is withheld (unreleased, held).
    if (plan.consentRequiredLabels.length && type !== 'Provenance') return { ref: row.ref, reason: 'consent-required' };
    return { ref: row.ref, reason: 'references-hidden' };
  });
}

/** An Observation hidden only through a held report: that hold's kind (the most lasting, if several reports are held). */
function heldReportReason(holds: readonly { kind: string }[]): WithheldItem['reason'] {
  const kinds = new Set(holds.map((h) => h.kind));
  if (kinds.has('legal')) return 'legal-hold';
  if (kinds.has('harm')) return 'harm-hold';
  if (kinds.has('data-quality')) return 'data-quality-hold';
  if (kinds.has('patient-delay')) return 'patient-delay';
  return 'references-hidden';
}
