/**
 * The patient's view of their access log as FHIR R4 AuditEvent resources (AUD-3): who accessed
 * the record (the app by name and client id, the proxy, the patient, staff per policy), when,
 * what they did, with what outcome, and which resources they received. Read from the patient's
 * own chain only. What a viewer could not read themselves is never named: resource references
 * pass through the caller's `visibleRefs` (the viewer's access plan), withheld items and reason
 * codes for withheld items are never shown, and staff are anonymous unless policy says otherwise.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { accessLogRecordFromRow, type AccessLogRow } from './access-log.js';
import { POLICY_ACTIONS, type AccessLogAction, type AccessLogRecord, type ActorKind } from './access-log-types.js';


export const ACCESS_LOG_ACTION_SYSTEM = 'urn:patient-access:access-log-action';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ROLE_CLASS = 'http://terminology.hl7.org/CodeSystem/v3-RoleClass';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const RESOURCE_TYPES = 'http://hl7.org/fhir/resource-types';
const CLIENT_ID_SYSTEM = 'urn:ietf:params:oauth:client-id';

export interface AuditEventViewOptions {
  /** Entries recorded at or after this instant. */
  readonly since?: Date;
  /** Page size (default 50, at most 500); 0 reads no entries (with `total`, only the count). */
  readonly count?: number;
  /** From the previous page's `nextCursor` (under the same options). */
  readonly cursor?: string;
  /** Oldest first (default: newest first). */
  readonly ascending?: boolean;
  /** Only these entries, by the id accessLogAuditEvent gives them. */
  readonly ids?: readonly string[];
  /**
   * Further conditions on the entry's row (alias `l`, e.g. `l.recorded_at >= ?`), compiled by the
   * caller from its own search parameters; values only as bindings.
   */
  readonly where?: { readonly sql: string; readonly bindings: readonly unknown[] };
  /** Count every entry that matches, besides the page. */
  readonly total?: boolean;
  /** AUD-3: staff identities appear only when the organization's policy allows (default 'hidden'). */
  readonly staffIdentity?: 'hidden' | 'shown';
  /**
   * The references (Type/id) among those an entry returned that the viewer may see named; the
   * others are left out without a trace (PRX-3: a parent must not learn of an adolescent's
   * confidential resources from the log). Pass the viewer's access-plan check; `new Set(refs)`
   * only where the viewer may see everything.
   */
  readonly visibleRefs: (refs: readonly string[]) => ReadonlySet<string> | Promise<ReadonlySet<string>>;
  /** Leave out the entries of these actors (e.g. an adolescent's own sessions from a parent's view, PRX-3). */
  readonly omitActors?: readonly ActorKind[];
}

export interface AuditEventPage {
  readonly events: AuditEvent[];
  /** Present when further entries remain. */
  readonly nextCursor?: string;
  /** With `total`: how many entries match in all. */
  readonly total?: number;
}

export class AuditEventCursorError extends Error {
  constructor() {
    super('invalid access log cursor');
    this.name = 'AuditEventCursorError';
  }
}

/**
 * Hex digits of an entry's hash that make its AuditEvent id (128 bits). The index
 * access_log_event_id_idx (migration 202612080001) is on `(patient_id, left(hash, 32))`: keep the two
 * in step, or id lookups scan the patient's chain.
 */
const ID_HEX = 32;
const ID_SQL = `left(l.hash, ${ID_HEX})`;

/**
 * An entry's AuditEvent id: the first half of its chain hash. Nothing in it tells where the entry
 * sits in the patient's chain, so a viewer who sees only some entries (a parent of an adolescent
 * does not see the adolescent's own sessions, PRX-3) cannot count or place the others: the chain
 * position (seq) is never shown, in ids, cursors or anywhere else. Only half the hash, so that a
 * viewer who knows every field of one of its own entries cannot test candidate positions and
 * predecessors against it (the hash covers seq and the previous entry's full hash). Unique within
 * a patient's chain for all practical purposes; the patient always comes from the reader's token.
 */
export function auditEventId(r: Pick<AccessLogRecord, 'hash'>): string {
  return r.hash.slice(0, ID_HEX);
}

const EVENT_ID = new RegExp(`^[0-9a-f]{${ID_HEX}}$`);

/**
 * A page's cursor is the id of the last entry on it: the reader holds that id already, so the
 * cursor tells nothing more. It resumes after that entry of the patient's chain, and only if the
 * entry is one this view shows (so it cannot probe for entries the viewer may not see).
 */
function encodeCursor(lastId: string): string {
  return lastId;
}

function decodeCursor(cursor: string): string {
  if (!EVENT_ID.test(cursor)) throw new AuditEventCursorError();
  return cursor;
}

const SOURCE: AuditEvent['source'] = {
  observer: { display: 'Patient Access API' },
  type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
};

function eventType(action: AccessLogAction): { type: Coding; interaction?: Coding; action: AuditEvent['action'] } {
  switch (action) {
    case 'read':
      return { type: { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' }, interaction: { system: INTERACTION, code: 'read' }, action: 'R' };
    case 'search':
      return { type: { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' }, interaction: { system: INTERACTION, code: 'search-type' }, action: 'E' };
    case 'everything':
      return { type: { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' }, interaction: { system: INTERACTION, code: 'operation' }, action: 'E' };
    case 'denied':
      return { type: { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' }, action: 'E' };
    case 'login':
    case 'login.failed':
    case 'lockout':
    case 'token.issue':
    case 'token.refresh':
      return { type: { system: DCM, code: '110114', display: 'User Authentication' }, action: 'E' };
    case 'consent':
    case 'token.revoke':
      return { type: { system: DCM, code: '110136', display: 'Security Roles Changed' }, action: 'U' };
    case 'registration':
    case 'audit.purge':
      return { type: { system: DCM, code: '110100', display: 'Application Activity' }, action: 'E' };
    case 'hold.place':
    case 'hold.review-request':
    case 'hold.review':
    case 'hold.lift':
    case 'delegation.suspend':
    case 'delegation.review-request':
    case 'delegation.review':
    case 'delegation.reinstate':
    case 'delegation.grant':
    case 'delegation.verify':
    case 'delegation.deny':
    case 'delegation.end':
    case 'restriction.create':
    case 'restriction.end':
    case 'disclosure-consent.grant':
    case 'disclosure-consent.revoke':
    case 'rule.create':
    case 'rule.enable':
    case 'rule.disable':
      return { type: { system: DCM, code: '110136', display: 'Security Roles Changed' }, action: 'U' };
  }
}

const ACTION_DISPLAY: Readonly<Record<AccessLogAction, string>> = {
  read: 'Read a record',
  search: 'Searched records',
  everything: 'Retrieved the whole record',
  'token.issue': 'Access granted to an app',
  'token.refresh': 'App access renewed',
  'token.revoke': 'App access revoked',
  login: 'Signed in',
  'login.failed': 'Failed sign-in',
  lockout: 'Account locked',
  consent: 'Authorization changed',
  registration: 'App registered',
  denied: 'Request refused',
  'audit.purge': 'Old log entries removed',
  'hold.place': 'Release hold placed',
  'hold.review-request': 'Review of a hold requested',
  'hold.review': 'Hold reviewed',
  'hold.lift': 'Release hold lifted',
  'delegation.suspend': 'Proxy access suspended',
  'delegation.review-request': 'Review of a suspension requested',
  'delegation.review': 'Suspension reviewed',
  'delegation.reinstate': 'Proxy access reinstated',
  'delegation.grant': 'Proxy access granted or requested',
  'delegation.verify': 'Proxy authority verified',
  'delegation.deny': 'Proxy request denied',
  'delegation.end': 'Proxy access ended',
  'restriction.create': 'Sharing restricted',
  'restriction.end': 'Sharing restriction ended',
  'disclosure-consent.grant': 'Consent to share protected records given',
  'disclosure-consent.revoke': 'Consent to share protected records revoked',
  'rule.create': 'Legal hold rule created',
  'rule.enable': 'Legal hold rule enabled',
  'rule.disable': 'Legal hold rule disabled',
};

function actorAgent(r: AccessLogRecord, staffIdentity: 'hidden' | 'shown'): AuditEventAgent | undefined {
  const policy = [...(r.grantId ? [`urn:patient-access:grant:${r.grantId}`] : []), ...(r.delegationId ? [`urn:patient-access:delegation:${r.delegationId}`] : [])];
  const withPolicy = (a: AuditEventAgent): AuditEventAgent => (policy.length ? { ...a, policy } : a);
  switch (r.actorKind) {
    case 'patient':
      return withPolicy({
        type: { coding: [{ system: ROLE_CLASS, code: 'PAT', display: 'patient' }] },
        who: { reference: r.actorFhirUser ?? `Patient/${r.onBehalfOf ?? r.patientId}` },
        requestor: true,
      });
    case 'proxy':
      return withPolicy({
        type: { coding: [{ system: ROLE_CLASS, code: 'AGNT', display: 'agent' }] },
        ...(r.actorFhirUser ? { who: { reference: r.actorFhirUser } } : {}),
        name: 'Proxy (personal representative)',
        requestor: true,
      });
    case 'staff':
      // AUD-3: staff identities only when the organization's policy allows.
      return staffIdentity === 'shown' && r.actorFhirUser
        ? { type: { coding: [{ system: ROLE_CLASS, code: 'EMP', display: 'employee' }] }, who: { reference: r.actorFhirUser }, requestor: true }
        : { type: { coding: [{ system: ROLE_CLASS, code: 'EMP', display: 'employee' }] }, name: 'Staff member', requestor: true };
    case 'system':
      return { type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] }, name: 'Patient Access server', requestor: true };
    case 'app':
      return undefined; // the app agent below is the requestor
  }
}

function appAgent(r: AccessLogRecord): AuditEventAgent | undefined {
  if (!r.clientId) return undefined;
  return {
    type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
    who: { identifier: { system: CLIENT_ID_SYSTEM, value: r.clientId }, display: r.clientName ?? r.clientId },
    name: r.clientName ?? r.clientId,
    requestor: r.actorKind === 'app',
  };
}

/** One stored entry as an AuditEvent; `visible` are the returned references the viewer may see. */
export function accessLogAuditEvent(r: AccessLogRecord, visible: ReadonlySet<string>, options: { staffIdentity?: 'hidden' | 'shown' } = {}): AuditEvent {
  const { type, interaction, action } = eventType(r.action);
  const agents = [actorAgent(r, options.staffIdentity ?? 'hidden'), appAgent(r)].filter((a): a is AuditEventAgent => a !== undefined);
  if (agents.length === 0) agents.push({ name: 'Unidentified requester', requestor: true });
  const entity: AuditEventEntity[] = [];
  if (r.patientId !== '') {
    entity.push({
      what: { reference: `Patient/${r.patientId}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (r.action === 'search' && r.resourceType) {
    entity.push({
      type: { system: RESOURCE_TYPES, code: r.resourceType },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      name: r.queryParams?.length ? `${r.resourceType}?${r.queryParams.join(',')}` : r.resourceType,
    });
  }
  for (const ref of r.returnedIds) {
    if (!visible.has(ref)) continue; // PRX-3: nothing the viewer may not read, not even its id
    entity.push({
      what: { reference: ref },
      type: { system: RESOURCE_TYPES, code: ref.slice(0, ref.indexOf('/')) },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  const outcome = r.outcome === 'success' ? '0' : r.outcome === 'denied' ? '4' : '8';
  return {
    resourceType: 'AuditEvent',
    id: auditEventId(r),
    type,
    subtype: [...(interaction ? [interaction] : []), { system: ACCESS_LOG_ACTION_SYSTEM, code: r.action, display: ACTION_DISPLAY[r.action] }],
    action,
    recorded: r.recordedAt.toISOString(),
    outcome,
    ...(r.outcome !== 'success' && r.reason ? { outcomeDesc: r.reason } : {}),
    agent: agents,
    source: SOURCE,
    ...(entity.length ? { entity } : {}),
  };
}

/**
 * A page of the patient's access log as AuditEvents (AUD-3), newest first unless `ascending`.
 * Every condition is in the SQL (so pages and totals agree), on the patient's own chain. Entries
 * are ordered by their place in the chain, which the reader never sees: ids and cursors are hash
 * prefixes (see auditEventId). The cursor is bound to nothing secret: it names an entry of this
 * patient's chain that this view shows, and only moves within them.
 */
export async function auditEventsFor(db: Knex, patientId: string, options: AuditEventViewOptions): Promise<AuditEventPage> {
  const count = options.count === 0 ? 0 : Math.min(Math.max(Math.trunc(options.count ?? 50), 1), 500);
  const conditions: string[] = ['l.patient_id = ?'];
  const bindings: unknown[] = [patientId];
  const add = (sql: string, ...values: readonly unknown[]) => {
    conditions.push(sql);
    bindings.push(...values);
  };
  // Holds and suspensions are told through their own endpoints, with what each viewer may know; the rows are for compliance.
  add(`l.action not in (${POLICY_ACTIONS.map(() => '?').join(', ')})`, ...POLICY_ACTIONS);
  if (options.omitActors?.length) add(`l.actor_kind not in (${options.omitActors.map(() => '?').join(', ')})`, ...options.omitActors);
  // What this view shows at all, whatever the search: where a cursor may point.
  const shown = conditions.join(' and ');
  const shownBindings = [...bindings];
  if (options.since) add('l.recorded_at >= ?', options.since);
  if (options.ids) {
    const wanted = [...new Set(options.ids.filter((id) => EVENT_ID.test(id)))];
    if (wanted.length === 0) return { events: [], ...(options.total ? { total: 0 } : {}) };
    add(`${ID_SQL} in (${wanted.map(() => '?').join(', ')})`, ...wanted);
  }
  if (options.where) add(`(${options.where.sql})`, ...options.where.bindings);
  const where = conditions.join(' and ');
  const whereBindings = [...bindings];
  if (options.cursor !== undefined) {
    const after = decodeCursor(options.cursor);
    const found = (
      (await db.raw(`select l.seq from access_log l where ${shown} and ${ID_SQL} = ? order by l.seq limit 1`, [...shownBindings, after] as Knex.RawBinding[])) as {
        rows: { seq: string | number }[];
      }
    ).rows[0];
    if (!found) throw new AuditEventCursorError();
    add(options.ascending ? 'l.seq > ?' : 'l.seq < ?', Number(found.seq));
  }

  const rows = count === 0 ? [] : (
    (await db.raw(`select l.* from access_log l where ${conditions.join(' and ')} order by l.seq ${options.ascending ? 'asc' : 'desc'} limit ?`, [...bindings, count + 1] as Knex.RawBinding[])) as {
      rows: AccessLogRow[];
    }
  ).rows.map(accessLogRecordFromRow);
  const picked = rows.slice(0, count);
  const total = options.total
    ? Number(((await db.raw(`select count(*)::int as n from access_log l where ${where}`, whereBindings as Knex.RawBinding[])) as { rows: { n: number }[] }).rows[0]!.n)
    : undefined;
  // AUD-3: the patient sees who accessed their record; the viewer's plan decides which resources are named.
  const allRefs = [...new Set(picked.flatMap((r) => r.returnedIds))];
  const visible = allRefs.length ? await options.visibleRefs(allRefs) : new Set<string>();
  const events = picked.map((r) => accessLogAuditEvent(r, visible, { staffIdentity: options.staffIdentity ?? 'hidden' }));
  const last = picked[picked.length - 1];
  return {
    events,
    ...(rows.length > count && last ? { nextCursor: encodeCursor(auditEventId(last)) } : {}),
    ...(total !== undefined ? { total } : {}),
  };
}
