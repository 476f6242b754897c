/**
 * The rest of US Core 6.1 a record needs, added once its visits are written (so the ids and random
 * draws of everything before stay as they were): social history (occupation, pregnancy status and
 * intent, sexual orientation), head circumference percentiles next to infants' head circumferences,
 * a blood pressure whose automated reading failed (component dataAbsentReason), a pulse oximetry
 * reading on supplemental oxygen (flow rate and concentration components), a resolved problem
 * (abatement), and the report types of the clinical notes guidance: an EKG (Cardiology) with the
 * cardiologist's consult note, a skin biopsy (Pathology) whose report lists its results, and a lab
 * report published as a document; and, where the spec asks for it, a declined flu shot (statusReason).
 * Every report's presentedForm has the URL of its DocumentReference.
 */
import type { Condition, DiagnosticReport, Immunization, Observation, Resource, Specimen } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { clamp, round } from '../random.js';
import { clinicianBy, locationRef, orgRef, practitionerRef, practitionerRoleRef, type Clinician } from '../shared.js';
import { LOCAL, SYSTEM, base64, concept, dualConcept, loinc, ucum, type Ref } from '../terminology.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, YEAR_MS, date, dateTime } from '../time.js';
import { reportUrl } from './imaging.js';
import { clinicalNote } from './notes.js';
import { provenance } from './provenance.js';
import type { Visit } from './visit.js';
import { percentile } from './vitals.js';

const SOCIAL_HISTORY = concept(SYSTEM.observationCategory, 'social-history', 'Social History');
const VITALS = concept(SYSTEM.observationCategory, 'vital-signs', 'Vital Signs');
const LAB = concept(SYSTEM.observationCategory, 'laboratory', 'Laboratory');
const ODH = 'http://terminology.hl7.org/CodeSystem/PHOccupationalDataForHealthODH';
const DAR_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/** Occupation and industry pairs (CDC Occupational Data for Health). */
const OCCUPATIONS = [
  { job: ['31-1014.00.007136', 'Certified Nursing Assistant (CNA) [Nursing Assistants]'], industry: ['621610.008495', 'Home nursing services'] },
  { job: ['19-1042.00.026469', 'Medical Researcher [Medical Scientists, Except Epidemiologists]'], industry: ['611310.000015', 'Academies, college or university [Colleges, Universities, and Professional Schools]'] },
] as const;

export function usCoreExtras(ctx: RecordContext, visits: readonly Visit[]): void {
  // Only finished, unlabelled visits: nothing here may reveal or change confidential care.
  const open = visits.filter((v) => !v.sensitivity && v.end < ctx.now - HOUR_MS);
  const latest = (kinds: readonly Visit['plan']['kind'][]) => [...open].reverse().find((v) => kinds.includes(v.plan.kind));
  const office = latest(['wellness']) ?? latest(['followUp', 'acute']);

  socialHistory(ctx, office);
  headCircumferencePercentiles(ctx);
  failedBloodPressure(ctx, open);
  oxygenTherapy(ctx, latest(['inpatient']) ?? latest(['emergency']));
  resolvedProblem(ctx);
  cardiology(ctx, open);
  if (ctx.age >= 18 && office) pathology(ctx, office);
  labReportDocument(ctx, open);
  if (ctx.spec.declinesFluVaccine && office) declinedFluVaccine(ctx, office);
}

/** Writes a batch of new resources with the Provenance of its author. */
function record(ctx: RecordContext, batch: Resource[], at: number, author: { clinician?: Clinician; org: Parameters<typeof provenance>[3]['org'] }): void {
  if (batch.length === 0) return;
  for (const r of batch) ctx.add(r);
  provenance(ctx, batch, at, author);
}

function socialHistory(ctx: RecordContext, visit: Visit | undefined): void {
  if (!visit || ctx.ageAt(visit.start) < 18) return;
  const { rnd, spec } = ctx;
  const at = visit.start + 7 * MINUTE_MS;
  const base = (code: Observation['code']): Observation => ({
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [SOCIAL_HISTORY],
    code,
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    issued: dateTime(at + MINUTE_MS),
    performer: [practitionerRoleRef(visit.clinician)],
  });
  const batch: Observation[] = [];

  // Occupation: the current job since a few years; someone who cannot give it has it recorded as unknown.
  const occupation = base(loinc('11341-5', 'History of Occupation', 'Occupation'));
  delete occupation.effectiveDateTime;
  if (ctx.has('dementia')) {
    occupation.effectivePeriod = { extension: [{ url: DAR_EXTENSION, valueCode: 'unknown' }] };
    occupation.valueCodeableConcept = concept(SYSTEM.dataAbsentReason, 'unknown', 'Unknown');
    occupation.note = [{ text: 'Patient unable to provide an occupational history; family not present.' }];
  } else {
    const o = OCCUPATIONS[spec.streamKey === 'hard-parent' ? 0 : rnd.int(0, OCCUPATIONS.length - 1)]!;
    const years = Math.min(rnd.int(2, 20), Math.max(1, Math.floor(ctx.ageAt(at) - 18)));
    occupation.effectivePeriod = { start: date(at - years * YEAR_MS) };
    occupation.valueCodeableConcept = concept(ODH, o.job[0], o.job[1]);
    occupation.component = [{ code: loinc('86188-0', 'History of Occupation Industry', 'Industry'), valueCodeableConcept: concept(ODH, o.industry[0], o.industry[1]) }];
  }
  batch.push(occupation);

  const orientation = base(loinc('76690-7', 'Sexual orientation'));
  orientation.valueCodeableConcept = ctx.has('dementia')
    ? concept(SYSTEM.nullFlavor, 'ASKU', 'Asked but no answer')
    : rnd.weighted([[concept(SYSTEM.snomed, '20430005', 'Heterosexual (finding)', 'Heterosexual'), 90], [concept(SYSTEM.snomed, '38628009', 'Homosexual (finding)', 'Lesbian, gay or homosexual'), 5], [concept(SYSTEM.snomed, '42035005', 'Bisexual (finding)', 'Bisexual'), 5]] as const);
  batch.push(orientation);

  if (spec.gender === 'female' && ctx.ageAt(at) < 50) {
    const status = base(loinc('82810-3', 'Pregnancy status', 'Pregnancy status'));
    status.valueCodeableConcept = concept(SYSTEM.snomed, '60001007', 'Not pregnant (finding)', 'Not pregnant');
    const intent = base(loinc('86645-9', 'Pregnancy intention in the next year - Reported', 'Pregnancy intent'));
    intent.valueCodeableConcept = ctx.ageAt(at) >= 40 || spec.streamKey === 'hard-parent'
      ? concept(SYSTEM.snomed, '454391000124108', 'No desire to become pregnant (finding)', 'No desire to become pregnant')
      : rnd.weighted([[concept(SYSTEM.snomed, '454391000124108', 'No desire to become pregnant (finding)', 'No desire to become pregnant'), 60], [concept(SYSTEM.snomed, '454381000124105', 'Not sure of desire to become pregnant (finding)', 'Not sure'), 20], [concept(SYSTEM.snomed, '454401000124105', 'Wants to become pregnant (finding)', 'Wants to become pregnant'), 20]] as const);
    batch.push(status, intent);
  }
  record(ctx, batch, visit.end, { clinician: visit.clinician, org: visit.org });
}

/** Head circumference percentile (WHO chart) next to every head circumference measured before age 3. */
function headCircumferencePercentiles(ctx: RecordContext): void {
  const heads = ctx.resources.filter((r): r is Observation => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === '9843-4');
  const batch: Observation[] = [];
  for (const head of heads) {
    const { id: _id, code: _code, valueQuantity: _value, ...rest } = head;
    batch.push({
      ...rest,
      id: ctx.id('obs'),
      code: loinc('8289-1', 'Head Occipital-frontal circumference Percentile', 'Head circumference percentile'),
      valueQuantity: ucum(percentile(ctx.body.heightZ), '%'),
      note: [{ text: `WHO ${ctx.spec.gender === 'female' ? 'Girls' : 'Boys'}, 0-2 years chart` }],
    });
  }
  record(ctx, batch, 0, { clinician: ctx.pcp, org: ctx.clinic.org });
}

/** The automated cuff failed before the reading that was kept: both components absent with reason "error". */
function failedBloodPressure(ctx: RecordContext, visits: readonly Visit[]): void {
  const bps = ctx.resources.filter((r): r is Observation => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === '85354-9' && !r.meta?.security);
  const bp = [...bps].reverse().find((o) => visits.some((v) => v.ref.reference === o.encounter?.reference));
  if (!bp) return;
  const visit = visits.find((v) => v.ref.reference === bp.encounter?.reference)!;
  const error = concept(SYSTEM.dataAbsentReason, 'error', 'Error', 'Automated cuff error');
  const at = Date.parse(bp.effectiveDateTime!) - 3 * MINUTE_MS;
  record(ctx, [{
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [VITALS],
    code: bp.code,
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    performer: bp.performer!,
    component: bp.component!.map((c) => ({ code: c.code, dataAbsentReason: error })),
    note: [{ text: 'Automated blood pressure cuff error; reading repeated manually.' }],
  }], visit.end, { clinician: visit.clinician, org: visit.org });
}

/** Pulse oximetry on nasal cannula oxygen during an admission or emergency visit. */
function oxygenTherapy(ctx: RecordContext, visit: Visit | undefined): void {
  if (!visit) return;
  const { rnd } = ctx;
  const flow = rnd.int(1, 4);
  const at = visit.start + Math.min(2 * HOUR_MS, (visit.end - visit.start) / 2);
  const spo2 = Math.round(clamp(rnd.normal(95, 1.5), 90, 99));
  record(ctx, [{
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [VITALS],
    code: { coding: [{ system: SYSTEM.loinc, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' }, { system: SYSTEM.loinc, code: '2708-6', display: 'Oxygen saturation in Arterial blood' }], text: 'Oxygen saturation' },
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    performer: [practitionerRef(visit.clinician)],
    valueQuantity: ucum(spo2, '%'),
    component: [
      { code: loinc('3151-8', 'Inhaled oxygen flow rate'), valueQuantity: ucum(flow, 'L/min', 'L/min') },
      // Nasal cannula: roughly 21% plus 4% per litre a minute.
      { code: loinc('3150-0', 'Inhaled oxygen concentration'), valueQuantity: ucum(21 + 4 * flow, '%') },
    ],
    note: [{ text: `On ${flow} L/min oxygen by nasal cannula.` }],
  }], visit.end, { clinician: visit.clinician, org: visit.org });
}

/** A past problem, resolved: the problem list keeps it with its abatement date. */
function resolvedProblem(ctx: RecordContext): void {
  const { rnd } = ctx;
  const adult = ctx.age >= 20;
  const [snomed, icd10] = adult
    ? [['279039007', 'Low back pain (finding)'], ['M54.50', 'Low back pain, unspecified']] as const
    : [['87522002', 'Iron deficiency anemia (disorder)'], ['D50.9', 'Iron deficiency anemia, unspecified']] as const;
  const earliest = ctx.birth + (adult ? 18 * YEAR_MS : Math.min(1, ctx.age / 2) * YEAR_MS);
  const onset = earliest + rnd.next() * Math.max(DAY_MS, ctx.now - 200 * DAY_MS - earliest);
  const abated = Math.min(onset + rnd.int(30, 150) * DAY_MS, ctx.now - 7 * DAY_MS);
  const condition: Condition = {
    resourceType: 'Condition',
    id: ctx.id('cond'),
    clinicalStatus: concept(SYSTEM.conditionClinical, 'resolved', 'Resolved'),
    verificationStatus: concept(SYSTEM.conditionVerification, 'confirmed', 'Confirmed'),
    category: [concept(SYSTEM.conditionCategory, 'problem-list-item', 'Problem List Item')],
    code: dualConcept(snomed, icd10),
    subject: ctx.patientRef,
    onsetDateTime: date(onset),
    abatementDateTime: date(abated),
    recordedDate: dateTime(onset + rnd.int(0, 5) * DAY_MS),
    recorder: practitionerRef(ctx.pcp),
    asserter: practitionerRef(ctx.pcp),
  };
  record(ctx, [condition], abated, { clinician: ctx.pcp, org: ctx.clinic.org });
}

/** EKG (Cardiology report) with the cardiologist's consult note, for adults with a heart-related reason. */
function cardiology(ctx: RecordContext, visits: readonly Visit[]): void {
  const reason = ctx.has('hypertension') || ctx.has('atrialFibrillation') || ctx.has('coronaryDisease') || ctx.age >= 60;
  const chestPain = [...visits].reverse().find((v) => v.plan.acute?.key === 'chest-pain');
  const visit = chestPain ?? [...visits].reverse().find((v) => v.plan.kind === 'inpatient') ?? (reason ? [...visits].reverse().find((v) => v.plan.kind === 'wellness' || v.plan.kind === 'followUp') : undefined);
  if (!visit || ctx.ageAt(visit.start) < 18) return;
  const { rnd } = ctx;
  const cardiologist = clinicianBy('cardiology');
  const at = visit.start + 30 * MINUTE_MS;
  const readAt = Math.min(at + rnd.int(1, 4) * HOUR_MS, ctx.now - HOUR_MS);
  const afib = ctx.has('atrialFibrillation');
  const paced = ctx.resources.some((r) => r.resourceType === 'Device' && /pacemaker/i.test(JSON.stringify(r.type ?? {})));
  const rate = Math.round(afib ? rnd.normal(84, 8) : rnd.normal(72, 7));
  const accession = `EKG-${rnd.digits(8)}`;
  const rhythm = paced ? 'Atrial fibrillation with intermittent ventricular pacing' : afib ? 'Atrial fibrillation with controlled ventricular response' : 'Normal sinus rhythm';
  const impression = paced || afib ? `${rhythm}. No acute ST-T changes.` : ctx.has('hypertension') ? 'Normal sinus rhythm. Borderline left ventricular hypertrophy by voltage criteria. No acute ST-T changes.' : 'Normal sinus rhythm. Normal EKG.';
  const text = [
    'ELECTROCARDIOGRAM REPORT',
    `Patient: ${ctx.spec.given.join(' ')} ${ctx.spec.family}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Recorded: ${dateTime(at)}    Accession: ${accession}`,
    '',
    `INDICATION: ${chestPain ? 'Chest pain' : afib ? 'Atrial fibrillation, rate control' : ctx.has('hypertension') ? 'Hypertension' : 'Pre-procedure evaluation'}`,
    `RATE: ${rate}/min    PR: ${afib ? 'n/a' : `${rnd.int(140, 190)} ms`}    QRS: ${rnd.int(84, 108)} ms    QTc: ${rnd.int(400, 445)} ms`,
    `RHYTHM: ${rhythm}`,
    '',
    `IMPRESSION: ${impression}`,
    '',
    `Interpreted by ${cardiologist.given} ${cardiologist.family}, ${cardiologist.suffix}, Cardiology`,
  ].join('\n');
  const url = reportUrl(accession);
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: ctx.id('dr'),
    identifier: [{ system: LOCAL.accession, value: accession }],
    status: 'final',
    category: [concept(SYSTEM.loinc, 'LP29708-2', 'Cardiology'), concept(SYSTEM.v2_0074, 'EC', 'Electrocardiac (e.g., EKG, EEC, Holter)')],
    code: loinc('11524-6', 'EKG study', 'Electrocardiogram'),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    issued: dateTime(readAt),
    performer: [practitionerRef(cardiologist), orgRef('hospital'), practitionerRoleRef(cardiologist)],
    resultsInterpreter: [practitionerRef(cardiologist)],
    conclusion: impression,
    presentedForm: [{ contentType: 'text/plain', language: 'en-US', data: base64(text), url, title: 'EKG report', creation: dateTime(readAt) }],
  };
  ctx.add(report);
  const reading = { ...visit, clinician: cardiologist };
  const ekgNote = clinicalNote(ctx, reading, 'ekg', text, { at: readAt, docStatus: 'final', url, moreAuthors: [practitionerRoleRef(cardiologist)] });
  const consultText = [
    'CARDIOLOGY CONSULTATION',
    `Patient: ${ctx.spec.given.join(' ')} ${ctx.spec.family}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Date of service: ${date(visit.start)}    Consultant: ${cardiologist.given} ${cardiologist.family}, ${cardiologist.suffix}    Requested by: ${visit.clinician.given} ${visit.clinician.family}, ${visit.clinician.suffix}`,
    '',
    `REASON FOR CONSULTATION: ${chestPain ? 'Chest pain' : afib ? 'Atrial fibrillation' : ctx.has('hypertension') ? 'Hypertension with abnormal EKG voltage' : 'Cardiac risk assessment'}`,
    '',
    `EKG: ${impression}`,
    '',
    'ASSESSMENT AND RECOMMENDATIONS',
    chestPain ? '- Low-risk chest pain; troponin negative. Outpatient stress testing.' : afib ? '- Continue rate control and anticoagulation.' : '- Continue current therapy; home blood pressure monitoring.',
    '- Return to cardiology clinic in 6 months.',
    '',
    `Electronically signed by ${cardiologist.given} ${cardiologist.family}, ${cardiologist.suffix}`,
  ].join('\n');
  const consult = clinicalNote(ctx, reading, 'consult', consultText, { at: readAt + 30 * MINUTE_MS, docStatus: 'final', moreAuthors: [practitionerRoleRef(cardiologist)] });
  provenance(ctx, [report, ekgNote, consult], readAt, { clinician: cardiologist, org: 'hospital' });
}

/** Shave biopsy of a skin lesion at an office visit, reported by the pathologist with its results. */
function pathology(ctx: RecordContext, visit: Visit): void {
  const { rnd } = ctx;
  const pathologist = clinicianBy('pathology');
  const collected = visit.start + 25 * MINUTE_MS;
  const issued = Math.min(collected + rnd.int(2, 5) * DAY_MS, ctx.now - HOUR_MS);
  const accession = `SP-${date(collected).slice(2, 4)}-${rnd.digits(6)}`;
  const site = rnd.pick(['upper back', 'left shoulder', 'right forearm', 'left flank']);
  const [diagnosis, micro] = rnd.pick([
    ['Seborrheic keratosis, irritated. Margins clear.', 'Acanthotic epidermis with horn cysts and basaloid keratinocytes; mild inflammation. No atypia.'],
    ['Compound melanocytic nevus, benign. Margins clear.', 'Nests of banal melanocytes at the dermoepidermal junction and in the dermis with maturation. No atypia or mitoses.'],
    ['Dermatofibroma.', 'Dermal proliferation of bland spindle cells with entrapped collagen and overlying epidermal hyperplasia.'],
  ] as const);
  const gross = `Received in formalin labeled "skin, ${site}, shave" is a tan-brown skin shave, 0.6 x 0.5 x 0.2 cm. Entirely submitted in one cassette.`;
  const specimen: Specimen = {
    resourceType: 'Specimen',
    id: ctx.id('spec'),
    identifier: [{ system: LOCAL.accession, value: `${accession}-A` }],
    accessionIdentifier: { system: LOCAL.accession, value: accession },
    status: 'available',
    type: { coding: [{ system: SYSTEM.snomed, code: '119325001', display: 'Skin (tissue) specimen' }, { system: SYSTEM.v2_0487, code: 'TISS', display: 'Tissue' }], text: 'Skin biopsy' },
    subject: ctx.patientRef,
    receivedTime: dateTime(collected + rnd.int(2, 6) * HOUR_MS),
    collection: { collector: practitionerRef(visit.clinician), collectedDateTime: dateTime(collected), method: { text: 'Shave biopsy' }, bodySite: { text: `Skin of ${site}` } },
  };
  const result = (code: string, display: string, value: string): Observation => ({
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [LAB],
    code: loinc(code, display),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(collected),
    issued: dateTime(issued),
    performer: [orgRef('lab')],
    specimen: { reference: `Specimen/${specimen.id}` },
    valueString: value,
  });
  const observations = [
    result('22634-0', 'Pathology report gross observation Narrative', gross),
    result('22635-7', 'Pathology report microscopic observation Narrative', micro),
    result('22637-3', 'Pathology report final diagnosis Narrative', diagnosis),
  ];
  const text = [
    'SURGICAL PATHOLOGY REPORT',
    `Patient: ${ctx.spec.given.join(' ')} ${ctx.spec.family}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Accession: ${accession}    Collected: ${dateTime(collected)}    Submitted by: ${visit.clinician.given} ${visit.clinician.family}, ${visit.clinician.suffix}`,
    '',
    `SPECIMEN: Skin, ${site}, shave biopsy`,
    `GROSS DESCRIPTION: ${gross}`,
    `MICROSCOPIC DESCRIPTION: ${micro}`,
    '',
    `FINAL DIAGNOSIS: Skin, ${site}, shave biopsy: ${diagnosis}`,
    '',
    `Electronically signed by ${pathologist.given} ${pathologist.family}, ${pathologist.suffix}, Riverside Clinical Laboratory`,
  ].join('\n');
  const url = reportUrl(accession);
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: ctx.id('dr'),
    identifier: [{ system: LOCAL.accession, value: accession }],
    status: 'final',
    category: [concept(SYSTEM.loinc, 'LP7839-6', 'Pathology'), concept(SYSTEM.v2_0074, 'SP', 'Surgical Pathology')],
    code: loinc('11526-1', 'Pathology study', 'Surgical pathology report'),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(collected),
    issued: dateTime(issued),
    performer: [orgRef('lab'), practitionerRoleRef(pathologist)],
    resultsInterpreter: [practitionerRef(pathologist)],
    specimen: [{ reference: `Specimen/${specimen.id}` }],
    result: observations.map((o): Ref => ({ reference: `Observation/${o.id}` })),
    conclusion: diagnosis,
    presentedForm: [{ contentType: 'text/plain', language: 'en-US', data: base64(text), url, title: 'Surgical pathology report', creation: dateTime(issued) }],
  };
  visit.findings.push(`Shave biopsy of a skin lesion of the ${site} sent to pathology.`);
  for (const r of [specimen, ...observations, report]) ctx.add(r);
  const note = clinicalNote(ctx, { ...visit, clinician: pathologist }, 'pathology', text, { at: issued, docStatus: 'final', url });
  provenance(ctx, [specimen, ...observations, report, note], issued, { clinician: pathologist, org: 'lab' });
}

/** The latest final laboratory report, rendered as a document (presentedForm and a Laboratory report note). */
function labReportDocument(ctx: RecordContext, visits: readonly Visit[]): void {
  const byId = new Map(ctx.resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const report = [...ctx.resources].reverse().find((r): r is DiagnosticReport =>
    r.resourceType === 'DiagnosticReport' && r.status === 'final' && !r.meta?.security && !r.presentedForm && r.category?.[0]?.coding?.[0]?.code === 'LAB'
    && visits.some((v) => v.ref.reference === r.encounter?.reference));
  if (!report) return;
  const visit = visits.find((v) => v.ref.reference === report.encounter?.reference)!;
  const pathologist = clinicianBy('pathology');
  const issued = Date.parse(report.issued!);
  const accession = report.identifier?.[0]?.value ?? report.id!;
  const lines = (report.result ?? []).map((ref) => byId.get(ref.reference!) as Observation | undefined).filter((o): o is Observation => !!o).map((o) => {
    const value = o.valueQuantity ? `${round(o.valueQuantity.value!, 3)} ${o.valueQuantity.unit}` : o.valueCodeableConcept?.text ?? o.valueString ?? '';
    const range = o.referenceRange?.[0];
    const flag = o.interpretation?.[0]?.coding?.[0]?.code;
    return `${o.code.coding?.[0]?.display}: ${value}${range ? `  (ref ${range.low?.value ?? ''}-${range.high?.value ?? ''})` : ''}${flag && flag !== 'N' ? `  [${flag}]` : ''}`;
  });
  const text = [
    `LABORATORY REPORT: ${report.code.text ?? report.code.coding?.[0]?.display}`,
    `Patient: ${ctx.spec.given.join(' ')} ${ctx.spec.family}    DOB: ${ctx.spec.birthDate}    MRN: ${ctx.spec.mrn}`,
    `Collected: ${report.effectiveDateTime}    Reported: ${report.issued}    Accession: ${accession}`,
    '',
    ...lines,
    '',
    `Released by Riverside Clinical Laboratory (CLIA 22D2045678); medical director ${pathologist.given} ${pathologist.family}, ${pathologist.suffix}`,
  ].join('\n');
  const url = reportUrl(accession);
  report.presentedForm = [{ contentType: 'text/plain', language: 'en-US', data: base64(text), url, title: 'Laboratory report', creation: dateTime(issued) }];
  const note = clinicalNote(ctx, { ...visit, clinician: pathologist, org: 'lab' }, 'labReport', text, { at: Math.min(issued, ctx.now - MINUTE_MS), docStatus: 'final', url });
  provenance(ctx, [note], issued, { clinician: pathologist, org: 'lab' });
}

/** A flu shot offered at an office visit and declined: a not-done Immunization with its reason. */
function declinedFluVaccine(ctx: RecordContext, visit: Visit): void {
  const at = visit.start + 20 * MINUTE_MS;
  const immunization: Immunization = {
    resourceType: 'Immunization',
    id: ctx.id('imm'),
    status: 'not-done',
    statusReason: concept(SYSTEM.actReason, 'PATOBJ', 'patient objection', 'Patient declined'),
    vaccineCode: { coding: [{ system: SYSTEM.cvx, code: '140', display: 'Influenza, seasonal, injectable, preservative free' }], text: 'Influenza, seasonal, injectable, preservative free' },
    patient: ctx.patientRef,
    encounter: visit.ref,
    occurrenceDateTime: dateTime(at),
    recorded: dateTime(at),
    primarySource: true,
    location: locationRef(visit.location),
    performer: [{ function: concept('http://terminology.hl7.org/CodeSystem/v2-0443', 'OP', 'Ordering Provider'), actor: practitionerRef(visit.clinician) }],
    note: [{ text: 'Influenza vaccine offered and declined by the patient after counseling.' }],
  };
  record(ctx, [immunization], visit.end, { clinician: visit.clinician, org: visit.org });
}
