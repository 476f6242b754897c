/**
 * Procedure (SNOMED CT) and, for implant surgery, the implanted Device (US Core Implantable Device:
 * UDI carrier with GS1 device identifier and human-readable form, lot, serial, dates).
 */
import type { Device, Procedure } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import type { Clinician, LocationKey } from '../shared.js';
import { locationRef, practitionerRef } from '../shared.js';
import { SYSTEM, concept, securityMeta, type Sensitivity, type Ref } from '../terminology.js';
import { DAY_MS, MINUTE_MS, YEAR_MS, date, dateTime } from '../time.js';
import { IMPLANTS, type ProcedureDef } from './procedure-catalog.js';

interface ProcedureOptions {
  at: number;
  minutes: number;
  performer: Clinician;
  location?: LocationKey;
  encounter?: Ref;
  reason?: Ref;
  sensitivity?: Sensitivity;
}

export function procedure(ctx: RecordContext, def: ProcedureDef, options: ProcedureOptions): { procedure: Procedure; device?: Device } {
  const device = def.implant ? implantDevice(ctx, def, options.at) : undefined;
  const proc = ctx.add<Procedure>({
    resourceType: 'Procedure',
    id: ctx.id('proc'),
    ...(options.sensitivity ? { meta: securityMeta([options.sensitivity]) } : {}),
    status: 'completed',
    code: { coding: [{ system: SYSTEM.snomed, code: def.snomed[0], display: def.snomed[1] }, { system: SYSTEM.cpt, code: def.cpt[0], display: def.cpt[1] }], text: def.snomed[1].replace(/ \(procedure\)$/, '') },
    subject: ctx.patientRef,
    ...(options.encounter ? { encounter: options.encounter } : {}),
    performedPeriod: { start: dateTime(options.at), end: dateTime(options.at + options.minutes * MINUTE_MS) },
    recorder: practitionerRef(options.performer),
    performer: [{ ...(def.bodySite ? { function: concept(SYSTEM.snomed, '304292004', 'Surgeon (occupation)') } : {}), actor: practitionerRef(options.performer) }],
    ...(options.location ? { location: locationRef(options.location) } : {}),
    ...(options.reason ? { reasonReference: [options.reason] } : {}),
    ...(def.bodySite ? { bodySite: [concept(SYSTEM.snomed, def.bodySite[0], def.bodySite[1])] } : {}),
    ...(device ? { focalDevice: [{ action: concept(SYSTEM.snomed, '129326001', 'Implantation - action (qualifier value)'), manipulated: { reference: `Device/${device.id}` } }] } : {}),
  });
  return device ? { procedure: proc, device } : { procedure: proc };
}

function implantDevice(ctx: RecordContext, def: ProcedureDef, at: number): Device {
  const implant = IMPLANTS[def.implant!];
  const { rnd } = ctx;
  const manufactured = at - rnd.int(60, 400) * DAY_MS;
  const expires = manufactured + 3 * YEAR_MS;
  const gtin = implant.gtinBase + gtinCheckDigit(implant.gtinBase);
  const lot = `${String.fromCharCode(65 + rnd.int(0, 25))}${rnd.digits(5)}`;
  const serial = rnd.digits(9);
  const yymmdd = (ms: number) => date(ms).slice(2).replace(/-/g, '');
  return ctx.add<Device>({
    resourceType: 'Device',
    id: ctx.id('dev'),
    udiCarrier: [{
      deviceIdentifier: gtin,
      issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di',
      jurisdiction: 'http://hl7.org/fhir/NamingSystem/fda-udi',
      carrierHRF: `(01)${gtin}(11)${yymmdd(manufactured)}(17)${yymmdd(expires)}(10)${lot}(21)${serial}`,
      entryType: 'barcode',
    }],
    distinctIdentifier: `${implant.model} ${serial}`,
    status: 'active',
    manufacturer: implant.manufacturer,
    manufactureDate: date(manufactured),
    expirationDate: date(expires),
    lotNumber: lot,
    serialNumber: serial,
    deviceName: [{ name: implant.model, type: 'model-name' }],
    modelNumber: implant.model.split(' ').slice(-1)[0]!,
    type: concept(SYSTEM.snomed, implant.snomed[0], implant.snomed[1], implant.snomed[1].replace(/ \(physical object\)$/, '').replace(/, device$/, '')),
    patient: ctx.patientRef,
  });
}

/** GS1 mod-10 check digit for a 13-digit GTIN-14 body. */
export function gtinCheckDigit(body13: string): string {
  let sum = 0;
  for (let i = 0; i < body13.length; i++) sum += Number(body13[body13.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  return String((10 - (sum % 10)) % 10);
}
