/**
 * Radiology: an imaging order and a DiagnosticReport in the US Core "Report and Note" shape
 * (category LP29684-5 Radiology, study LOINC code, presentedForm with the report text, conclusion),
 * plus the same report as a DocumentReference, as US Core expects servers to expose both.
 */
import type { DiagnosticReport, ServiceRequest } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { clinicianBy, orgRef, practitionerRef } from '../shared.js';
import { LOCAL, SYSTEM, base64, concept, securityMeta } from '../terminology.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, dateTime } from '../time.js';
import type { ImagingKey } from './condition-catalog.js';
import { clinicalNote } from './notes.js';
import type { Visit } from './visit.js';

interface Study {
  loinc: readonly [string, string];
  cpt: readonly [string, string, number];
  modality: string;
  technique: string;
  normal: readonly [findings: string, impression: string];
  abnormal: readonly [findings: string, impression: string];
}

const STUDIES: Record<ImagingKey, Study> = {
  usAbdomen: {
    loinc: ['24558-9', 'US Abdomen'], cpt: ['76700', 'Ultrasound, abdominal, real time with image documentation; complete', 420], modality: 'Ultrasound',
    technique: 'Real-time grayscale and color Doppler sonography of the abdomen.',
    normal: ['Liver normal in size and echotexture without focal lesion. Gallbladder without stones or wall thickening. Common bile duct 3 mm. Pancreas, spleen and both kidneys unremarkable. No free fluid.', 'Normal abdominal ultrasound.'],
    abnormal: ['Multiple mobile echogenic shadowing foci within the gallbladder, largest 9 mm. No gallbladder wall thickening or pericholecystic fluid. Negative sonographic Murphy sign. Common bile duct 4 mm.', 'Cholelithiasis without sonographic evidence of acute cholecystitis.'],
  },
  mrBrain: {
    loinc: ['24590-2', 'MR Brain'], cpt: ['70551', 'Magnetic resonance imaging, brain; without contrast material', 1800], modality: 'MRI',
    technique: 'Multiplanar multisequence MR imaging of the brain without intravenous contrast.',
    normal: ['No acute infarct on diffusion-weighted imaging. No intracranial hemorrhage, mass or mass effect. Ventricles and sulci normal for age. Normal flow voids.', 'Normal MRI of the brain.'],
    abnormal: ['Few scattered punctate T2/FLAIR hyperintensities in the subcortical white matter of both frontal lobes. No restricted diffusion, hemorrhage or mass effect.', 'Nonspecific white matter hyperintensities, commonly seen with migraine or small vessel disease. No acute abnormality.'],
  },
  ctChest: {
    loinc: ['24627-2', 'CT Chest'], cpt: ['71250', 'Computed tomography, thorax, diagnostic; without contrast material', 650], modality: 'CT',
    technique: 'Axial CT images of the chest without intravenous contrast with multiplanar reformats.',
    normal: ['Lungs are clear. No pleural effusion or pneumothorax. Heart size normal. No mediastinal or hilar lymphadenopathy.', 'No acute cardiopulmonary abnormality.'],
    abnormal: ['Consolidation in the right lower lobe with air bronchograms. Small right pleural effusion. Heart size normal. No pneumothorax.', 'Right lower lobe pneumonia with small parapneumonic effusion.'],
  },
  ctHead: {
    loinc: ['24725-4', 'CT Head'], cpt: ['70450', 'Computed tomography, head or brain; without contrast material', 520], modality: 'CT',
    technique: 'Axial CT images of the head without intravenous contrast.',
    normal: ['No intracranial hemorrhage, mass effect or midline shift. Gray-white matter differentiation preserved. Ventricles normal in size. Calvarium intact.', 'No acute intracranial abnormality.'],
    abnormal: ['Small left frontal scalp hematoma. No underlying fracture. No intracranial hemorrhage or mass effect.', 'Scalp hematoma without fracture or intracranial injury.'],
  },
};

const RADIOLOGY = concept(SYSTEM.loinc, 'LP29684-5', 'Radiology');

/** Where a report's rendered text is published: DiagnosticReport.presentedForm and its DocumentReference share it. */
export function reportUrl(accession: string): string {
  return `${LOCAL.documents}/${accession}.txt`;
}
const IMAGING_ORDER = concept(SYSTEM.snomed, '363679005', 'Imaging (procedure)');

export function radiologyStudy(ctx: RecordContext, visit: Visit, key: ImagingKey, options: { abnormal?: boolean; indication: string }): DiagnosticReport {
  const { rnd } = ctx;
  const study = STUDIES[key];
  const radiologist = clinicianBy('radiology');
  const orderedAt = visit.start + rnd.int(15, 60) * MINUTE_MS;
  const performedAt = orderedAt + rnd.int(20, 120) * MINUTE_MS;
  const readAt = performedAt + rnd.int(1, 5) * HOUR_MS;
  const recent = ctx.now - performedAt < 2 * DAY_MS;
  const status: DiagnosticReport['status'] = recent ? 'preliminary' : rnd.weighted([['final', 92], ['amended', 4], ['corrected', 4]] as const);
  const abnormal = options.abnormal ?? rnd.chance(0.25);
  const [findings, impression] = abnormal ? study.abnormal : study.normal;
  const meta = visit.sensitivity ? { meta: securityMeta([visit.sensitivity]) } : {};
  const accession = `RAD-${rnd.digits(8)}`;

  const order = ctx.add<ServiceRequest>({
    resourceType: 'ServiceRequest',
    id: ctx.id('sr'),
    ...meta,
    identifier: [{ system: LOCAL.order, value: accession }],
    status: recent ? 'active' : 'completed',
    intent: 'order',
    category: [IMAGING_ORDER],
    code: { coding: [{ system: SYSTEM.loinc, code: study.loinc[0], display: study.loinc[1] }, { system: SYSTEM.cpt, code: study.cpt[0], display: study.cpt[1] }], text: study.loinc[1] },
    subject: ctx.patientRef,
    encounter: visit.ref,
    occurrenceDateTime: dateTime(performedAt),
    authoredOn: dateTime(orderedAt),
    requester: practitionerRef(visit.clinician),
    performer: [practitionerRef(radiologist)],
    reasonCode: [{ text: options.indication }],
  });

  const text = [
    `${study.loinc[1].toUpperCase()} REPORT${status === 'preliminary' ? ' (PRELIMINARY)' : ''}`,
    `Patient: ${ctx.spec.given.join(' ')} ${ctx.spec.family}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Exam date: ${dateTime(performedAt)}    Accession: ${accession}`,
    '',
    `INDICATION: ${options.indication[0]!.toUpperCase()}${options.indication.slice(1)}`,
    `TECHNIQUE: ${study.technique}`,
    'COMPARISON: None available.',
    '',
    `FINDINGS: ${findings}`,
    '',
    `IMPRESSION: ${impression}`,
    ...(status === 'amended' ? ['', 'ADDENDUM: Comparison with outside images obtained; impression unchanged.'] : []),
    ...(status === 'corrected' ? ['', 'CORRECTION: Laterality corrected in the findings section.'] : []),
    '',
    `Interpreted by ${radiologist.given} ${radiologist.family}, ${radiologist.suffix}, Riverside Imaging Center`,
  ].join('\n');

  const report = ctx.add<DiagnosticReport>({
    resourceType: 'DiagnosticReport',
    id: ctx.id('dr'),
    ...meta,
    identifier: [{ system: LOCAL.accession, value: accession }],
    basedOn: [{ reference: `ServiceRequest/${order.id}` }],
    status,
    category: [RADIOLOGY, concept(SYSTEM.v2_0074, 'RAD', 'Radiology')],
    code: { coding: [{ system: SYSTEM.loinc, code: study.loinc[0], display: study.loinc[1] }], text: study.loinc[1] },
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(performedAt),
    issued: dateTime(Math.min(readAt, ctx.now - 60_000)),
    performer: [practitionerRef(radiologist), orgRef('hospital')],
    resultsInterpreter: [practitionerRef(radiologist)],
    conclusion: impression,
    presentedForm: [{ contentType: 'text/plain', language: 'en-US', data: base64(text), url: reportUrl(accession), title: `${study.loinc[1]} report`, creation: dateTime(Math.min(readAt, ctx.now - 60_000)) }],
  });
  // The same report as a clinical note, its attachment at the same URL (US Core clinical notes guidance).
  clinicalNote(ctx, { ...visit, clinician: radiologist }, 'imaging', text, { at: Math.min(readAt, ctx.now - 60_000), docStatus: status === 'preliminary' ? 'preliminary' : status === 'final' ? 'final' : 'amended', url: reportUrl(accession) });
  visit.findings.push(`${study.modality}: ${study.loinc[1]} – ${impression}`);
  visit.bill.push({ cpt: study.cpt, at: performedAt });
  return report;
}
