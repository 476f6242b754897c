/**
 * State-law delays (REL-6): a rule for one jurisdiction, narrowed to a code set (never "all
 * labs"), with its statute citation, a condition (until the result was discussed with the
 * patient, or a fixed period) that always has a maximum, and an expiry. Rules are created
 * disabled and must be enabled one by one; counsel supplies the codes and periods.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { auditPolicyChange } from '../audit/policy-audit.js';
import type { PolicyAction } from '../audit/access-log-types.js';
import { HOUR_MS, HoldValidationError, isInstant, isStaffId, nonEmpty, toDate, toDateOrNull } from './errors.js';
import { releaseItemsOfSource } from './hold-items.js';

export interface LegalHoldRuleInput {
  /** ISO 3166-2, e.g. `US-CA`. */
  jurisdiction: string;
  description: string;
  /** Result codes the law names; each with its code system. */
  codes: readonly { system: string; code: string }[];
  condition: 'until_discussed' | 'max_duration';
  /** The longest the law allows; every held item is released by then (REL-6). */
  maxDurationHours: number;
  /** The statute, e.g. "Cal. Health & Safety Code § 123148". Required (REL-6). */
  citation: string;
  effectiveFrom: Date;
  expiresAt: Date;
}

export interface LegalHoldRule extends LegalHoldRuleInput {
  id: string;
  enabled: boolean;
  createdBy: string;
  createdAt: Date;
  enabledAt: Date | null;
  enabledBy: string | null;
  disabledAt: Date | null;
  disabledBy: string | null;
}

const JURISDICTION = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/;
const WILDCARDS = new Set(['*', 'all', 'any', '%']);
const FIELDS = ['jurisdiction', 'description', 'codes', 'condition', 'maxDurationHours', 'citation', 'effectiveFrom', 'expiresAt'];
/** A year: the outer bound of any delay we could imagine a statute requiring; longer is a typo. */
export const LEGAL_HOLD_MAX_HOURS = 365 * 24;

/**
 * Validates a rule; usable on configuration at start-up, where a refusal stops the process with
 * the rule id in the message (REL-1, REL-6).
 */
export function validateLegalHoldRule(input: LegalHoldRuleInput): LegalHoldRuleInput {
  if (typeof input !== 'object' || input === null) throw new HoldValidationError('invalid-input', 'REL-6', 'expected a legal hold rule');
  for (const key of Object.keys(input))
    if (!FIELDS.includes(key))
      throw new HoldValidationError(['category', 'categories', 'allResults', 'resourceType'].includes(key) ? 'code-set-required' : 'unknown-field', 'REL-6', `unknown field "${key}"; a rule is narrowed to a code set`);
  if (typeof input.jurisdiction !== 'string' || !JURISDICTION.test(input.jurisdiction))
    throw new HoldValidationError('jurisdiction-required', 'REL-6', 'a legal hold rule needs its jurisdiction as an ISO 3166-2 code such as US-CA');
  if (!nonEmpty(input.citation)) throw new HoldValidationError('citation-required', 'REL-6', 'a legal hold rule needs the statute it implements'); // REL-6
  if (!nonEmpty(input.description)) throw new HoldValidationError('invalid-input', 'REL-6', 'a legal hold rule needs a description');
  if (!Array.isArray(input.codes) || input.codes.length === 0) throw new HoldValidationError('code-set-required', 'REL-6', 'a legal hold rule must list the result codes it covers, never "all"'); // REL-6
  for (const c of input.codes as unknown[]) {
    const ok =
      typeof c === 'object' &&
      c !== null &&
      nonEmpty((c as { system?: unknown }).system) &&
      nonEmpty((c as { code?: unknown }).code) &&
      !WILDCARDS.has((c as { system: string }).system.trim()) &&
      !WILDCARDS.has((c as { code: string }).code.trim().toLowerCase());
    if (!ok) throw new HoldValidationError('code-set-required', 'REL-6', `each code needs a system and a code, never a wildcard: ${JSON.stringify(c)}`); // REL-6
  }
  if (input.condition !== 'until_discussed' && input.condition !== 'max_duration')
    throw new HoldValidationError('invalid-input', 'REL-6', 'condition must be until_discussed or max_duration');
  if (!Number.isInteger(input.maxDurationHours) || input.maxDurationHours <= 0 || input.maxDurationHours > LEGAL_HOLD_MAX_HOURS)
    throw new HoldValidationError('rule-duration-required', 'REL-6', `a legal hold rule needs a maximum duration of 1 to ${LEGAL_HOLD_MAX_HOURS} hours`); // REL-6: no longer than the law requires
  if (!isInstant(input.effectiveFrom) || !isInstant(input.expiresAt) || input.expiresAt.getTime() <= input.effectiveFrom.getTime())
    throw new HoldValidationError('rule-expiry-required', 'REL-6', 'a legal hold rule needs an effective date and a later expiry'); // REL-6
  return input;
}

interface Row {
  id: string;
  jurisdiction: string;
  description: string;
  condition: 'until_discussed' | 'max_duration';
  max_duration_hours: number;
  citation: string;
  enabled: boolean;
  effective_from: Date | string;
  expires_at: Date | string;
  created_by: string;
  created_at: Date | string;
  enabled_at: Date | string | null;
  enabled_by: string | null;
  disabled_at: Date | string | null;
  disabled_by: string | null;
}

async function withCodes(db: Knex, rows: Row[]): Promise<LegalHoldRule[]> {
  if (rows.length === 0) return [];
  const codes = (await db('legal_hold_rule_code')
    .whereIn(
      'rule_id',
      rows.map((r) => r.id),
    )
    .orderBy(['rule_id', 'system', 'code'])) as { rule_id: string; system: string; code: string }[];
  return rows.map((r) => ({
    id: r.id,
    jurisdiction: r.jurisdiction,
    description: r.description,
    codes: codes.filter((c) => c.rule_id === r.id).map((c) => ({ system: c.system, code: c.code })),
    condition: r.condition,
    maxDurationHours: Number(r.max_duration_hours),
    citation: r.citation,
    effectiveFrom: toDate(r.effective_from),
    expiresAt: toDate(r.expires_at),
    enabled: r.enabled,
    createdBy: r.created_by,
    createdAt: toDate(r.created_at),
    enabledAt: toDateOrNull(r.enabled_at),
    enabledBy: r.enabled_by,
    disabledAt: toDateOrNull(r.disabled_at),
    disabledBy: r.disabled_by,
  }));
}

const STAFF_REFUSAL = 'must identify the person (1-256 printable characters, no spaces), for the access log';

/** A rule concerns no one patient: its changes are logged in the '' chain (AUD-1), with the citation's rule id. */
const auditRule = (trx: Knex, action: PolicyAction, ruleId: string, by: string, at: Date, detail: Record<string, string | number> = {}) =>
  auditPolicyChange(trx, { patientId: '', action, actor: { kind: 'staff', id: by }, at, exception: 'required_by_law', detail: { ruleId, ...detail } });

/** Stores a rule, always disabled (REL-6: no rule ships enabled). */
export async function createLegalHoldRule(db: Knex, input: LegalHoldRuleInput, meta: { createdBy: string; at: Date }): Promise<LegalHoldRule> {
  validateLegalHoldRule(input);
  if (!isStaffId(meta.createdBy)) throw new HoldValidationError('invalid-input', 'REL-6', `createdBy ${STAFF_REFUSAL}`);
  const id = randomUUID();
  const codes = new Map(input.codes.map((c) => [`${c.system.trim()}|${c.code.trim()}`, { rule_id: id, system: c.system.trim(), code: c.code.trim() }]));
  await db.transaction(async (trx) => {
    await trx('legal_hold_rule').insert({
      id,
      jurisdiction: input.jurisdiction,
      description: input.description.trim(),
      condition: input.condition,
      max_duration_hours: input.maxDurationHours,
      citation: input.citation.trim(),
      enabled: false,
      effective_from: input.effectiveFrom,
      expires_at: input.expiresAt,
      created_by: meta.createdBy,
      created_at: meta.at,
    });
    await trx('legal_hold_rule_code').insert([...codes.values()]);
    await auditRule(trx, 'rule.create', id, meta.createdBy, meta.at, { jurisdiction: input.jurisdiction, codes: codes.size });
  });
  return (await getLegalHoldRule(db, id))!;
}

export async function listLegalHoldRules(db: Knex): Promise<LegalHoldRule[]> {
  return withCodes(db, (await db<Row>('legal_hold_rule').orderBy('created_at')) as Row[]);
}

export async function getLegalHoldRule(db: Knex, id: string): Promise<LegalHoldRule | undefined> {
  const rows = (await db<Row>('legal_hold_rule').where({ id })) as Row[];
  return (await withCodes(db, rows))[0];
}

/** Rules that hold new results for patients of `jurisdiction` at `at`. */
export async function enabledLegalHoldRules(db: Knex, jurisdiction: string, at: Date): Promise<LegalHoldRule[]> {
  const rows = (await db<Row>('legal_hold_rule')
    .where({ jurisdiction, enabled: true })
    .andWhere('effective_from', '<=', at)
    .andWhere('expires_at', '>', at)
    .orderBy('id')) as Row[];
  return withCodes(db, rows);
}

export async function enableLegalHoldRule(db: Knex, input: { ruleId: string; enabledBy: string; at: Date }): Promise<LegalHoldRule> {
  const rule = await getLegalHoldRule(db, input.ruleId);
  if (!rule) throw new HoldValidationError('not-found', 'REL-6', `no legal hold rule ${input.ruleId}`);
  if (rule.expiresAt.getTime() <= input.at.getTime()) throw new HoldValidationError('rule-expired', 'REL-6', 'the rule has expired; create a new one with the current citation');
  if (!isStaffId(input.enabledBy)) throw new HoldValidationError('invalid-input', 'REL-6', `enabledBy ${STAFF_REFUSAL}`);
  if (rule.enabled) throw new HoldValidationError('rule-already-enabled', 'REL-6', 'the rule is already enabled');
  await db.transaction(async (trx) => {
    await trx('legal_hold_rule').where({ id: input.ruleId }).update({ enabled: true, enabled_at: input.at, enabled_by: input.enabledBy, disabled_at: null, disabled_by: null });
    await auditRule(trx, 'rule.enable', input.ruleId, input.enabledBy, input.at);
  });
  return (await getLegalHoldRule(db, input.ruleId))!;
}

/** Disables the rule and releases at once everything it still holds, for every patient. */
export async function disableLegalHoldRule(db: Knex, input: { ruleId: string; disabledBy: string; at: Date }): Promise<LegalHoldRule> {
  if (!isStaffId(input.disabledBy)) throw new HoldValidationError('invalid-input', 'REL-6', `disabledBy ${STAFF_REFUSAL}`);
  await db.transaction(async (trx) => {
    const row = (await trx('legal_hold_rule').where({ id: input.ruleId }).forUpdate().first()) as Row | undefined;
    if (!row) throw new HoldValidationError('not-found', 'REL-6', `no legal hold rule ${input.ruleId}`);
    if (!row.enabled) throw new HoldValidationError('rule-not-enabled', 'REL-6', 'the rule is not enabled');
    await trx('legal_hold_rule').where({ id: input.ruleId }).update({ enabled: false, disabled_at: input.at, disabled_by: input.disabledBy });
    const released = await releaseItemsOfSource(trx, undefined, 'legal', input.ruleId, input.at, input.disabledBy, 'rule-disabled');
    await auditRule(trx, 'rule.disable', input.ruleId, input.disabledBy, input.at, { released });
  });
  return (await getLegalHoldRule(db, input.ruleId))!;
}

/** When a result arriving at `heldFrom` is released under the rule: its maximum, and never after the rule expires. */
export function legalHoldReleaseAt(rule: Pick<LegalHoldRule, 'maxDurationHours' | 'expiresAt'>, heldFrom: Date): Date {
  return new Date(Math.min(heldFrom.getTime() + rule.maxDurationHours * HOUR_MS, rule.expiresAt.getTime()));
}
