/**
 * Provenance (US Core: target, recorded, author agent = Practitioner on behalf of the Organization,
 * or the Organization itself; transmitter agent) for a batch of resources written together, e.g.
 * everything from one visit.
 */
import type { Provenance, ProvenanceAgent, Resource } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { orgRef, practitionerRef, type Clinician, type OrgKey } from '../shared.js';
import { SYSTEM, concept, securityMeta, type Sensitivity } from '../terminology.js';
import { MINUTE_MS, dateTime } from '../time.js';

const TIMESTAMPS = ['issued', 'date', 'created', 'authoredOn', 'recordedDate', 'recorded', 'whenHandedOver', 'effectiveDateTime', 'occurrenceDateTime', 'authored'] as const;

/** The latest moment a resource says something happened to it (so provenance is never recorded before its targets). */
function latest(resource: Resource): number {
  const r = resource as unknown as Record<string, unknown>;
  let max = 0;
  for (const f of TIMESTAMPS) {
    const v = r[f];
    if (typeof v === 'string' && v.length > 10) max = Math.max(max, Date.parse(v));
  }
  const period = (r['period'] ?? r['performedPeriod']) as { end?: string } | undefined;
  if (period?.end) max = Math.max(max, Date.parse(period.end));
  return max;
}

/**
 * One Provenance per sensitivity group: a provenance that points at labelled resources reveals that
 * they exist, so it carries their labels, and unlabelled resources get their own unlabelled one.
 */
export function provenance(ctx: RecordContext, targets: readonly Resource[], notBefore: number, author: { clinician?: Clinician; org: OrgKey }): Provenance[] {
  const groups = new Map<string, Resource[]>();
  for (const t of targets) {
    const key = (t.meta?.security ?? []).filter((s) => s.system === SYSTEM.actCode).map((s) => s.code).sort().join('+');
    const list = groups.get(key);
    if (list) list.push(t);
    else groups.set(key, [t]);
  }
  const authorAgent: ProvenanceAgent = author.clinician
    ? { type: concept(SYSTEM.provenanceParticipant, 'author', 'Author'), who: practitionerRef(author.clinician), onBehalfOf: orgRef(author.org) }
    : { type: concept(SYSTEM.provenanceParticipant, 'author', 'Author'), who: orgRef(author.org) };
  const out: Provenance[] = [];
  for (const [key, group] of groups) {
    const labels = key === '' ? [] : (key.split('+') as Sensitivity[]);
    const recorded = Math.min(Math.max(notBefore, ...group.map(latest)) + 10 * MINUTE_MS, ctx.now - 1000);
    out.push(ctx.add<Provenance>({
      resourceType: 'Provenance',
      id: ctx.id('prov'),
      ...(labels.length > 0 ? { meta: securityMeta(labels) } : {}),
      target: group.map((t) => ({ reference: `${t.resourceType}/${t.id}` })),
      recorded: dateTime(recorded),
      activity: concept('http://terminology.hl7.org/CodeSystem/v3-DataOperation', 'CREATE', 'create'),
      agent: [authorAgent, { type: concept(SYSTEM.usCoreProvenanceParticipant, 'transmitter', 'Transmitter'), who: orgRef('hospital') }],
    }));
  }
  return out;
}
