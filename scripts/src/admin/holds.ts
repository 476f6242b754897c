/**
 * `npm run admin -- holds …` and `rules …`: what the portal's staff API does, for operators and
 * scripts (REL-2…6). Every change goes through the consent stores, which validate it against its
 * rule and write it to the access log in the same transaction; the CLI adds nothing of its own.
 */
import { readFile } from 'node:fs/promises';
import {
  createLegalHoldRule,
  disableLegalHoldRule,
  enableLegalHoldRule,
  liftDataQualityHold,
  liftHarmHold,
  listHoldItems,
  listLegalHoldRules,
  listPatientDelays,
  placeDataQualityHold,
  recordReleaseEvent,
  type Database,
  type DataQualityProblem,
  type LegalHoldRule,
  type LegalHoldRuleInput,
} from '@patient-access/consent';
import { AdminError } from './accounts.js';

export interface HoldOptions {
  patient?: string;
  resource?: string[];
  problem?: string;
  reason?: string;
  by?: string;
  kind?: string;
  days?: string;
  event?: string;
  file?: string;
}

const DAY_MS = 86_400_000;

const need = (value: string | undefined, flag: string): string => {
  if (!value) throw new AdminError(`--${flag} is required`);
  return value;
};

/** `Type/id` → a resource key; anything else is refused here rather than by the store's longer message. */
const resourceKey = (ref: string) => {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (!m) throw new AdminError(`--resource ${ref}: expected Type/id, e.g. Observation/obs-1`);
  return { resourceType: m[1]!, resourceId: m[2]! };
};

/** Runs one `holds` command; returns the lines to print. */
export async function holdsCommand(db: Database, command: string | undefined, arg: string | undefined, o: HoldOptions, now: Date): Promise<string[]> {
  switch (command) {
    case 'list': {
      const patientId = need(o.patient, 'patient');
      const items = (await listHoldItems(db, patientId)).filter((i) => i.releasedAt === null && i.releaseAt.getTime() > now.getTime());
      const delays = (await listPatientDelays(db, patientId)).filter((d) => d.status === 'active');
      if (items.length === 0 && delays.length === 0) return [`No hold in force on ${patientId}.`];
      return [
        ...items.map((i) => `${i.kind.padEnd(14)} ${i.sourceId}  ${i.resourceType}/${i.resourceId}  until ${i.releaseAt.toISOString()}${i.condition ? ` (${i.condition})` : ''}`),
        ...delays.map((d) => `${'delay'.padEnd(14)} ${d.id}  ${d.scope.kind === 'order' ? `order ${d.scope.orderId}` : `category ${d.scope.category.code}`}  ${d.condition.kind}, at most ${d.maxHours} h (set by the ${d.requestedBy.kind})`),
      ];
    }
    case 'place': {
      const days = o.days === undefined ? undefined : Number(o.days);
      if (days !== undefined && !(Number.isFinite(days) && days > 0)) throw new AdminError('--days must be a positive number');
      const hold = await placeDataQualityHold(db, {
        patientId: need(o.patient, 'patient'),
        resources: (o.resource ?? []).map(resourceKey),
        problem: need(o.problem, 'problem') as DataQualityProblem,
        reason: need(o.reason, 'reason'),
        placedBy: need(o.by, 'by'),
        at: now,
        ...(days !== undefined ? { expiresAt: new Date(now.getTime() + days * DAY_MS) } : {}),
      });
      return [`Data-quality hold ${hold.id} on ${hold.resources.length} record(s) of ${hold.patientId}, until ${hold.expiresAt.toISOString()}.`];
    }
    case 'lift': {
      const holdId = need(arg, 'hold id (holds lift <id>)');
      const patientId = need(o.patient, 'patient');
      if (o.kind === 'data-quality') {
        const reason = need(o.reason, 'reason');
        if (reason !== 'fixed' && reason !== 'not-an-error') throw new AdminError('--reason must be fixed or not-an-error for a data-quality hold');
        await liftDataQualityHold(db, { patientId, holdId, liftedBy: need(o.by, 'by'), reason, at: now });
      } else if (o.kind === 'harm') {
        await liftHarmHold(db, { patientId, holdId, liftedBy: need(o.by, 'by'), reason: need(o.reason, 'reason'), at: now });
      } else {
        throw new AdminError('--kind must be data-quality or harm (a patient cancels their own delay in the portal; a rule is disabled with rules disable)');
      }
      return [`Lifted ${o.kind} hold ${holdId}; what it held is visible now.`];
    }
    case 'release': {
      const { resourceType, resourceId } = resourceKey(need(o.resource?.[0], 'resource'));
      const event = need(o.event, 'event');
      const n = await recordReleaseEvent(db, { patientId: need(o.patient, 'patient'), resourceType, resourceId, event: event as 'discussed', by: need(o.by, 'by'), at: now });
      return [`${event}: ${n} hold(s) on ${resourceType}/${resourceId} released.`];
    }
    default:
      throw new AdminError(`unknown holds command "${command ?? ''}"`);
  }
}

const describeRule = (r: LegalHoldRule) =>
  `${r.id}  ${r.enabled ? 'enabled ' : 'disabled'}  ${r.jurisdiction}  ${r.codes.length} code(s)  ${r.condition}, at most ${r.maxDurationHours} h  until ${r.expiresAt.toISOString().slice(0, 10)}  ${r.citation}`;

/** Runs one `rules` command (state-law holds, REL-6); returns the lines to print. */
export async function rulesCommand(db: Database, command: string | undefined, arg: string | undefined, o: HoldOptions, now: Date): Promise<string[]> {
  switch (command) {
    case 'list': {
      const rules = await listLegalHoldRules(db);
      return rules.length ? rules.map(describeRule) : ['No legal hold rule.'];
    }
    case 'create': {
      const file = need(o.file, 'file');
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new AdminError(`${file}: ${(err as Error).message}`);
      }
      const date = (key: string) => (typeof raw[key] === 'string' ? new Date(raw[key]) : new Date(Number.NaN));
      const input = { ...raw, effectiveFrom: date('effectiveFrom'), expiresAt: date('expiresAt') } as unknown as LegalHoldRuleInput;
      const rule = await createLegalHoldRule(db, input, { createdBy: need(o.by, 'by'), at: now });
      return [`Created ${describeRule(rule)}`, `It holds nothing until enabled: npm run admin -- rules enable ${rule.id} --by <you>`];
    }
    case 'enable':
      return [`Enabled ${describeRule(await enableLegalHoldRule(db, { ruleId: need(arg, 'rule id'), enabledBy: need(o.by, 'by'), at: now }))}`];
    case 'disable':
      return [`Disabled ${describeRule(await disableLegalHoldRule(db, { ruleId: need(arg, 'rule id'), disabledBy: need(o.by, 'by'), at: now }))}; what it held is visible now.`];
    default:
      throw new AdminError(`unknown rules command "${command ?? ''}"`);
  }
}
