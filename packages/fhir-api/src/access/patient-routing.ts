/**
 * Which covered patient a request of a user-level token (one covering several patients) is
 * answered for. Each patient's access is her own (grant, plan, epoch), so a request is answered
 * under one of them: the patient a search names, each in turn for a Patient search, any for shared
 * types. A compartment search that names none of them is refused rather than guessed: answering it
 * for the first would silently leave the others out.
 */
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { isCompartmentType } from '../search/registry.js';
import type { Filter } from '../search/search-request.js';

export type PatientRoute =
  /** Under this covered patient's access. */
  | { kind: 'patient'; patient: string }
  /** Under each covered patient's access in turn, the answers merged (Patient searches). */
  | { kind: 'each' }
  /** Under any one access: what it finds does not depend on the patient (or is nothing). */
  | { kind: 'any' };

const PATIENT_REF = 'Patient/';

/** The route of a search of `type` with these filters, under a token covering `covered` (two or more). */
export function searchRoute(type: string, filters: readonly Filter[], covered: readonly string[]): PatientRoute {
  const named = new Set<string>();
  for (const f of filters) {
    if (f.kind === 'reference') for (const v of f.values) if (v.startsWith(PATIENT_REF)) named.add(v.slice(PATIENT_REF.length));
    if (f.kind === 'id' && type === 'Patient') for (const v of f.values) named.add(v);
  }
  const mine = [...named].filter((p) => covered.includes(p));
  if (mine.length === 1) return { kind: 'patient', patient: mine[0]! };
  // Every patient it may be: each answers for her own Patient resource.
  if (type === 'Patient' && (mine.length > 1 || named.size === 0)) return { kind: 'each' };
  if (mine.length > 1) throw new OperationOutcomeError('PATIENT_REQUIRED', `This token covers several patients: a ${type} search names one of them at a time`);
  // Names only patients the token does not cover: it matches nothing, under any access.
  if (named.size > 0) return { kind: 'any' };
  if (isCompartmentType(type) || type === 'AuditEvent') {
    throw new OperationOutcomeError('PATIENT_REQUIRED', `This token covers several patients: name one with patient= to search ${type}`);
  }
  return { kind: 'any' };
}
