/**
 * A lab order at a visit: ServiceRequest per panel, one Specimen per specimen type, and a
 * DiagnosticReport whose results are Observations with LOINC codes, UCUM values, reference ranges
 * and interpretations. Results go through every status (registered → final, amended, corrected,
 * cancelled, entered-in-error); values follow the patient's conditions and treatment.
 */
import type { CodeableConcept, DiagnosticReport, Meta, Observation, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { clamp, round } from '../random.js';
import { clinicianBy, orgRef, practitionerRef } from '../shared.js';
import { LOCAL, SYSTEM, concept, loinc, securityMeta, ucum, type Sensitivity, type Ref } from '../terminology.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, dateTime } from '../time.js';
import { PANELS, SPECIMENS, TESTS, type Panel, type PanelKey, type QualTest, type QuantTest, type SpecimenKey } from './lab-catalog.js';
import type { Visit } from './visit.js';

export type ResultStatus = 'registered' | 'preliminary' | 'final' | 'amended' | 'corrected' | 'cancelled' | 'entered-in-error';

const LAB_CATEGORY = concept(SYSTEM.observationCategory, 'laboratory', 'Laboratory');
const LAB_REPORT_CATEGORY = concept(SYSTEM.v2_0074, 'LAB', 'Laboratory');
const LAB_ORDER_CATEGORY = concept(SYSTEM.snomed, '108252007', 'Laboratory procedure');

/** Results still in the lab a few days after the draw; older ones are final, with a few corrections. */
export function drawResultStatus(ctx: RecordContext, at: number): ResultStatus {
  if (ctx.now - at < 3 * DAY_MS) return ctx.rnd.weighted([['registered', 3], ['preliminary', 4], ['final', 5]] as const);
  return ctx.rnd.weighted([['final', 86], ['amended', 3], ['corrected', 3], ['cancelled', 2], ['entered-in-error', 2], ['preliminary', 2], ['registered', 2]] as const);
}

const interpretationConcept = (code: string, display: string): CodeableConcept => concept(SYSTEM.interpretation, code, display);

/** A plausible value for a test given the patient's conditions and drugs. */
function quantValue(ctx: RecordContext, test: QuantTest, female: boolean): number {
  const { rnd } = ctx;
  const onDrug = (key: string) => ctx.drugs.some((d) => d.drug.key === key && d.request.status === 'active');
  const lo = (female ? test.female?.low : undefined) ?? test.low;
  const hi = (female ? test.female?.high : undefined) ?? test.high;
  let v: number;
  switch (test.loinc) {
    case TESTS.a1c.loinc:
      v = ctx.has('diabetes') ? rnd.normal(7.4, 0.7) : ctx.has('obesity') ? rnd.normal(5.8, 0.3) : rnd.normal(5.2, 0.3);
      break;
    case TESTS.glucose.loinc:
      v = ctx.has('diabetes') ? rnd.normal(150, 30) : rnd.normal(88, 9);
      break;
    case TESTS.ldl.loinc:
      v = ctx.has('hyperlipidemia') || ctx.has('coronaryDisease') ? (onDrug('atorvastatin') ? rnd.normal(98, 15) : rnd.normal(155, 20)) : rnd.normal(95, 18);
      break;
    case TESTS.cholesterol.loinc:
      v = ctx.has('hyperlipidemia') ? (onDrug('atorvastatin') ? rnd.normal(180, 18) : rnd.normal(235, 20)) : rnd.normal(175, 20);
      break;
    case TESTS.triglycerides.loinc:
      v = ctx.has('diabetes') || ctx.has('hyperlipidemia') ? rnd.normal(185, 40) : rnd.normal(110, 30);
      break;
    case TESTS.hdl.loinc:
      v = rnd.normal(female ? 60 : 49, 9);
      break;
    case TESTS.tsh.loinc:
      v = ctx.has('hypothyroidism') ? rnd.normal(3.6, 1.6) : rnd.normal(1.9, 0.7);
      break;
    case TESTS.creatinine.loinc:
      v = ctx.has('ckd3') ? rnd.normal(1.7, 0.2) : rnd.normal(female ? 0.8 : 1, 0.12);
      break;
    case TESTS.bun.loinc:
      v = ctx.has('ckd3') ? rnd.normal(28, 5) : rnd.normal(14, 3);
      break;
    case TESTS.inr.loinc:
      v = onDrug('warfarin') ? rnd.normal(2.5, 0.45) : rnd.normal(1, 0.08);
      break;
    case TESTS.alt.loinc:
    case TESTS.ast.loinc:
      v = ctx.has('alcoholUse') ? rnd.normal(78, 20) : rnd.normal(26, 8);
      break;
    case TESTS.troponin.loinc:
      v = rnd.chance(0.12) ? rnd.normal(0.3, 0.15) : rnd.normal(0.012, 0.005);
      break;
    default:
      if (lo !== undefined && hi !== undefined) v = rnd.normal((lo + hi) / 2, (hi - lo) / 4.5);
      else if (hi !== undefined) v = rnd.normal(hi * 0.78, hi * 0.1);
      else v = rnd.normal((lo ?? 1) * 1.35, (lo ?? 1) * 0.2);
  }
  return round(Math.max(v, test.decimals === 0 ? 1 : 10 ** -test.decimals), test.decimals);
}

interface PanelResult {
  report: DiagnosticReport;
  observations: Observation[];
}

interface OrderOptions {
  status?: ResultStatus;
  sensitivity?: Sensitivity;
  reason?: Ref[];
}

/** Orders, collects and reports the panels; returns the reports (their results are already added). */
export function labOrder(ctx: RecordContext, visit: Visit, panelKeys: readonly PanelKey[], options: OrderOptions = {}): PanelResult[] {
  const { rnd } = ctx;
  if (panelKeys.length === 0) return [];
  const panels = [...new Set(panelKeys)].map((k) => PANELS[k]);
  const orderedAt = visit.start + rnd.int(10, 30) * MINUTE_MS;
  const collectedAt = orderedAt + rnd.int(5, 40) * MINUTE_MS;
  const status = options.status ?? drawResultStatus(ctx, collectedAt);
  const sensitivity = options.sensitivity ?? visit.sensitivity;
  // A sensitive test (HIV, STI) keeps its own label inside a labelled visit as well.
  const labelsFor = (p: Panel): Sensitivity[] => [...new Set([p.sensitivity, sensitivity].filter((x): x is Sensitivity => x !== undefined))].sort();
  const labelFor = (p: Panel): Meta | undefined => {
    const labels = labelsFor(p);
    return labels.length > 0 ? securityMeta(labels) : undefined;
  };
  const requester = practitionerRef(visit.clinician);
  const pathologist = clinicianBy('pathology');
  const accession = `${new Date(collectedAt).toISOString().slice(2, 10).replace(/-/g, '')}-${rnd.digits(6)}`;

  const specimens = new Map<SpecimenKey, Specimen>();
  const requests = new Map<PanelKey, ServiceRequest>();
  for (const p of panels) {
    requests.set(p.key, ctx.add<ServiceRequest>({
      resourceType: 'ServiceRequest',
      id: ctx.id('sr'),
      ...withMeta(labelFor(p)),
      identifier: [{ system: LOCAL.order, value: `LAB-${accession}-${p.key.toUpperCase()}` }],
      status: status === 'registered' || status === 'preliminary' ? 'active' : status === 'cancelled' ? 'revoked' : 'completed',
      intent: 'order',
      category: [LAB_ORDER_CATEGORY],
      code: { coding: [{ system: SYSTEM.loinc, code: p.loinc, display: p.display }, { system: SYSTEM.cpt, code: p.cpt[0], display: p.cpt[1] }], text: p.display },
      subject: ctx.patientRef,
      encounter: visit.ref,
      occurrenceDateTime: dateTime(collectedAt),
      authoredOn: dateTime(orderedAt),
      requester,
      performer: [orgRef('lab')],
      ...(options.reason ? { reasonReference: options.reason } : {}),
    }));
    if (!specimens.has(p.specimen)) {
      const s = SPECIMENS[p.specimen];
      specimens.set(p.specimen, ctx.add<Specimen>({
        resourceType: 'Specimen',
        id: ctx.id('spec'),
        ...withMeta(labelFor(p)),
        identifier: [{ system: LOCAL.accession, value: `${accession}-${specimens.size + 1}` }],
        accessionIdentifier: { system: LOCAL.accession, value: accession },
        status: status === 'cancelled' ? 'unsatisfactory' : 'available',
        type: { coding: [{ system: SYSTEM.snomed, code: s.snomed[0], display: s.snomed[1] }, { system: SYSTEM.v2_0487, code: s.v2[0], display: s.v2[1] }], text: s.v2[1] },
        subject: ctx.patientRef,
        receivedTime: dateTime(collectedAt + rnd.int(20, 90) * MINUTE_MS),
        request: [],
        collection: { collectedDateTime: dateTime(collectedAt), method: { text: s.method } },
        ...(status === 'cancelled' ? { condition: [concept('http://terminology.hl7.org/CodeSystem/v2-0493', 'HEM', 'Hemolyzed')] } : {}),
      }));
    }
    specimens.get(p.specimen)!.request!.push({ reference: `ServiceRequest/${requests.get(p.key)!.id}` });
  }

  const female = ctx.spec.gender === 'female';
  const issuedAt = collectedAt + rnd.int(2, 30) * HOUR_MS;
  const results: PanelResult[] = [];
  const summary: string[] = [];
  for (const p of panels) {
    const specimen: Ref = { reference: `Specimen/${specimens.get(p.specimen)!.id}` };
    const basedOn: Ref[] = [{ reference: `ServiceRequest/${requests.get(p.key)!.id}` }];
    const meta = labelFor(p);
    // In an amended/corrected report exactly one result carries the change.
    const changedIndex = status === 'amended' || status === 'corrected' ? rnd.int(0, p.tests.length - 1) : -1;
    const observations = p.tests.map((test, i): Observation => {
      const obsStatus: Observation['status'] = status === 'amended' || status === 'corrected' ? (i === changedIndex ? status : 'final') : status;
      const obs: Observation = {
        resourceType: 'Observation',
        id: ctx.id('obs'),
        ...withMeta(meta),
        status: obsStatus,
        category: [LAB_CATEGORY],
        code: loinc(test.loinc, test.display),
        subject: ctx.patientRef,
        encounter: visit.ref,
        basedOn,
        effectiveDateTime: dateTime(collectedAt),
        performer: [orgRef('lab')],
        specimen,
      };
      if (status === 'registered') {
        // Ordered and collected, no result yet.
        obs.dataAbsentReason = concept(SYSTEM.dataAbsentReason, 'temp-unknown', 'Temporarily Unknown');
        return obs;
      }
      if (status === 'cancelled') {
        obs.dataAbsentReason = concept(SYSTEM.dataAbsentReason, 'not-performed', 'Not Performed');
        obs.note = [{ text: 'Specimen hemolyzed; test not performed. Please recollect.' }];
        return obs;
      }
      obs.issued = dateTime(issuedAt);
      if (test.kind === 'quantity') setQuantity(ctx, obs, test, female, summary);
      else setQualitative(ctx, obs, test, p.positiveRate ?? 0, summary);
      if (i === changedIndex) {
        obs.issued = dateTime(issuedAt + rnd.int(1, 3) * DAY_MS);
        obs.note = [{ text: status === 'corrected' ? 'Corrected result: the original value was reported in error after an instrument calibration fault.' : 'Amended result: reference interval updated after method change; value re-verified.' }];
      }
      if (status === 'entered-in-error') obs.note = [{ text: 'This result was filed to the wrong patient and has been retracted.' }];
      return obs;
    });
    for (const o of observations) ctx.add(o);

    const report = ctx.add<DiagnosticReport>({
      resourceType: 'DiagnosticReport',
      id: ctx.id('dr'),
      ...withMeta(meta),
      identifier: [{ system: LOCAL.accession, value: `${accession}-${p.key}` }],
      basedOn,
      status,
      category: [LAB_REPORT_CATEGORY],
      code: { coding: [{ system: SYSTEM.loinc, code: p.loinc, display: p.display }], text: p.display },
      subject: ctx.patientRef,
      encounter: visit.ref,
      effectiveDateTime: dateTime(collectedAt),
      ...(status === 'registered' ? {} : { issued: dateTime(status === 'amended' || status === 'corrected' ? issuedAt + DAY_MS : issuedAt) }),
      performer: [orgRef('lab')],
      resultsInterpreter: [practitionerRef(pathologist)],
      specimen: [specimen],
      result: observations.map((o) => ({ reference: `Observation/${o.id}` })),
      ...(status === 'cancelled' ? { conclusion: 'Specimen rejected (hemolyzed). No results reported.' } : {}),
      ...(status === 'entered-in-error' ? { conclusion: 'Report retracted: entered in error.' } : {}),
    });
    results.push({ report, observations });
    const labels = labelsFor(p);
    visit.bill.push({ cpt: p.cpt, at: collectedAt, ...(labels.length > 0 ? { labels } : {}) });
  }
  // Sensitive tests never appear in the visit note (the note itself may be unlabelled).
  if (panels.some((p) => labelsFor(p).length > 0)) return results;
  if (status === 'registered' || status === 'preliminary') visit.findings.push(`Labs ordered (${panels.map((p) => p.display).join('; ')}): results pending.`);
  else if (status === 'cancelled') visit.findings.push('Labs cancelled: specimen hemolyzed, recollection requested.');
  else if (summary.length > 0) visit.findings.push(`Labs: ${summary.join(', ')}.`);
  return results;
}

function withMeta(meta: Meta | undefined): { meta?: Meta } {
  return meta ? { meta } : {};
}

function setQuantity(ctx: RecordContext, obs: Observation, test: QuantTest, female: boolean, summary: string[]): void {
  const value = quantValue(ctx, test, female);
  const lo = (female ? test.female?.low : undefined) ?? test.low;
  const hi = (female ? test.female?.high : undefined) ?? test.high;
  obs.valueQuantity = ucum(value, test.ucum, test.unit);
  obs.referenceRange = [{
    ...(lo === undefined ? {} : { low: ucum(lo, test.ucum, test.unit) }),
    ...(hi === undefined ? {} : { high: ucum(hi, test.ucum, test.unit) }),
    ...(test.female ? { appliesTo: [concept('http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender', female ? 'F' : 'M', female ? 'Female' : 'Male')] } : {}),
  }];
  const flag = lo !== undefined && value < lo ? 'L' : hi !== undefined && value > hi ? 'H' : 'N';
  obs.interpretation = [interpretationConcept(flag, flag === 'L' ? 'Low' : flag === 'H' ? 'High' : 'Normal')];
  if (flag !== 'N' || summary.length < 4) summary.push(`${shortName(test.display)} ${value} ${test.unit}${flag === 'N' ? '' : ` (${flag})`}`);
}

function setQualitative(ctx: RecordContext, obs: Observation, test: QualTest, positiveRate: number, summary: string[]): void {
  const positive = ctx.rnd.chance(clamp(positiveRate, 0, 1));
  const [code, display] = test.scale === 'detection'
    ? (positive ? ['260373001', 'Detected (qualifier value)'] : ['260415000', 'Not detected (qualifier value)'])
    : (positive ? ['10828004', 'Positive (qualifier value)'] : ['260385009', 'Negative (qualifier value)']);
  obs.valueCodeableConcept = concept(SYSTEM.snomed, code, display, display.replace(/ \(qualifier value\)$/, ''));
  obs.interpretation = [test.scale === 'detection'
    ? (positive ? interpretationConcept('DET', 'Detected') : interpretationConcept('ND', 'Not detected'))
    : (positive ? interpretationConcept('POS', 'Positive') : interpretationConcept('NEG', 'Negative'))];
  summary.push(`${shortName(test.display)}: ${display.replace(/ \(qualifier value\)$/, '').toLowerCase()}`);
}

function shortName(display: string): string {
  return display.replace(/ \[.*$/, '').replace(/ in (Serum|Blood|Plasma|Throat|Respiratory|Specimen|Platelet).*$/, '');
}

/** True when any lab value in the visit is flagged (drives the note's plan wording). */
export function anyAbnormal(results: readonly PanelResult[]): boolean {
  return results.some((r) => r.observations.some((o) => o.interpretation?.[0]?.coding?.[0]?.code === 'H' || o.interpretation?.[0]?.coding?.[0]?.code === 'L'));
}
