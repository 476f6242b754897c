/**
 * Clinical notes as DocumentReference (US Core clinical-note category, LOINC note types), the text
 * carried base64-encoded in content.attachment.data with the IHE mime-type-sufficient format code.
 */
import type { DocumentReference } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { orgRef, practitionerRef } from '../shared.js';
import { SYSTEM, base64, concept, securityMeta, type Ref, type Sensitivity } from '../terminology.js';
import { HOUR_MS, dateTime } from '../time.js';
import type { Visit } from './visit.js';

export const NOTE_TYPES = {
  progress: ['11506-3', 'Progress note'],
  discharge: ['18842-5', 'Discharge summary'],
  historyAndPhysical: ['34117-2', 'History and physical note'],
  consult: ['11488-4', 'Consult note'],
  procedure: ['28570-0', 'Procedure note'],
  emergency: ['34111-5', 'Emergency department note'],
  imaging: ['18748-4', 'Diagnostic imaging study'],
  labReport: ['11502-2', 'Laboratory report'],
  pathology: ['11526-1', 'Pathology study'],
  ekg: ['11524-6', 'EKG study'],
} as const;
export type NoteType = keyof typeof NOTE_TYPES;

const CLINICAL_NOTE = concept(SYSTEM.documentCategory, 'clinical-note', 'Clinical Note');

export interface NoteOptions {
  at?: number;
  sensitivity?: Sensitivity;
  docStatus?: 'preliminary' | 'final' | 'amended';
  /** Where the document can be fetched: the same URL as the presentedForm of the report it renders. */
  url?: string;
  /** Authors after the clinician, e.g. the clinician's PractitionerRole. */
  moreAuthors?: Ref[];
}

export function clinicalNote(ctx: RecordContext, visit: Visit, type: NoteType, text: string, options: NoteOptions = {}): DocumentReference {
  const [code, display] = NOTE_TYPES[type];
  const at = options.at ?? visit.end + ctx.rnd.int(1, 6) * HOUR_MS;
  const sensitivity = options.sensitivity ?? visit.sensitivity;
  const docStatus = options.docStatus ?? (ctx.now - at < 2 * 86_400_000 ? 'preliminary' : ctx.rnd.chance(0.03) ? 'amended' : 'final');
  return ctx.add<DocumentReference>({
    resourceType: 'DocumentReference',
    id: ctx.id('doc'),
    ...(sensitivity ? { meta: securityMeta([sensitivity]) } : {}),
    identifier: [{ system: SYSTEM.ietfUri, value: `urn:uuid:${ctx.rnd.uuid()}` }],
    status: 'current',
    docStatus,
    type: { coding: [{ system: SYSTEM.loinc, code, display }], text: display },
    category: [CLINICAL_NOTE],
    subject: ctx.patientRef,
    date: dateTime(Math.min(at, ctx.now - 60_000)),
    author: [practitionerRef(visit.clinician), ...(options.moreAuthors ?? [])],
    authenticator: practitionerRef(visit.clinician),
    custodian: orgRef(visit.org),
    description: `${display} – ${new Date(visit.start).toISOString().slice(0, 10)}`,
    content: [{
      attachment: { contentType: 'text/plain', language: 'en-US', data: base64(text), ...(options.url ? { url: options.url } : {}), title: display, creation: dateTime(Math.min(at, ctx.now - 60_000)) },
      format: { system: SYSTEM.iheFormatCode, code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient', display: 'mimeType Sufficient' },
    }],
    context: {
      encounter: [visit.ref],
      period: { start: dateTime(visit.start), end: dateTime(visit.end) },
    },
  });
}

/** A SOAP-style note from what the visit recorded. */
export function noteText(ctx: RecordContext, visit: Visit, title: string, subjective: string): string {
  const name = `${ctx.spec.given.join(' ')} ${ctx.spec.family}`;
  const age = Math.floor(ctx.ageAt(visit.start));
  const lines = [
    title.toUpperCase(),
    `Patient: ${name}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Date of service: ${new Date(visit.start).toISOString().slice(0, 10)}    Clinician: ${visit.clinician.given} ${visit.clinician.family}, ${visit.clinician.suffix}`,
    '',
    'SUBJECTIVE',
    `${age}-year-old ${ctx.spec.gender} ${subjective}`,
    '',
    'OBJECTIVE',
    ...(visit.findings.length > 0 ? visit.findings.map((f) => `- ${f}`) : ['- No measurements taken at this visit.']),
    '',
    'ASSESSMENT',
    ...(visit.diagnoses.length > 0 ? visit.diagnoses.map((d) => `- ${d.code?.text ?? 'Diagnosis'}${d.code?.coding?.[1] ? ` (${d.code.coding[1].code})` : ''}`) : ['- Healthy; no acute problems identified.']),
    '',
    'PLAN',
    ...(visit.plans.length > 0 ? visit.plans.map((p) => `- ${p}`) : ['- Continue current care. Return as needed.']),
    '',
    `Electronically signed by ${visit.clinician.given} ${visit.clinician.family}, ${visit.clinician.suffix}`,
  ];
  return lines.join('\n');
}
