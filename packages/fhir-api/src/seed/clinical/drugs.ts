/**
 * The drug formulary (RxNorm SCDs). Long-term drugs are shared Medication resources that requests
 * point at with medicationReference; short courses are coded inline (medicationCodeableConcept),
 * so both US Core shapes occur.
 */
import type { Dosage, Quantity } from '@medplum/fhirtypes';
import type { Sensitivity } from '../terminology.js';
import { SYSTEM } from '../terminology.js';

export interface Drug {
  key: string;
  rxnorm: string;
  display: string;
  /** Long-term (shared Medication + refills) vs a short course (inline code, no refills). */
  chronic: boolean;
  dosage: Dosage;
  /** Units dispensed per fill and the days they last. */
  quantity: Quantity;
  daysSupply: number;
  refills: number;
  /** Allergy class that forbids it (penicillin-allergic patients never get amoxicillin). */
  avoidIfAllergic?: 'penicillin' | 'sulfonamide';
  sensitivity?: Sensitivity;
}

const ORAL = { coding: [{ system: SYSTEM.snomed, code: '26643006', display: 'Oral route (qualifier value)' }] };
const INHALED = { coding: [{ system: SYSTEM.snomed, code: '447694001', display: 'Respiratory tract route (qualifier value)' }] };
const tablet = (n: number): Quantity => ({ value: n, unit: 'tablet', system: SYSTEM.orderableDrugForm, code: 'TAB' });
const capsule = (n: number): Quantity => ({ value: n, unit: 'capsule', system: SYSTEM.orderableDrugForm, code: 'CAP' });
const puff = (n: number): Quantity => ({ value: n, unit: 'puff', system: SYSTEM.ucum, code: '{puff}' });
const inhaler = (n: number): Quantity => ({ value: n, unit: 'inhaler', system: SYSTEM.orderableDrugForm, code: 'INHL' });

function daily(text: string, perDay: number, dose: Quantity, route = ORAL, asNeeded = false): Dosage {
  return {
    sequence: 1,
    text,
    timing: { repeat: { frequency: perDay, period: 1, periodUnit: 'd' } },
    ...(asNeeded ? { asNeededBoolean: true } : {}),
    route,
    doseAndRate: [{ doseQuantity: dose }],
  };
}

function drug(d: Drug): Drug {
  return d;
}

export const DRUGS = {
  lisinopril: drug({ key: 'lisinopril', rxnorm: '314076', display: 'lisinopril 10 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (10 mg) by mouth once daily.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  amlodipine: drug({ key: 'amlodipine', rxnorm: '197361', display: 'amlodipine 5 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (5 mg) by mouth once daily.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  hydrochlorothiazide: drug({ key: 'hydrochlorothiazide', rxnorm: '310798', display: 'hydrochlorothiazide 25 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (25 mg) by mouth every morning.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  metformin: drug({ key: 'metformin', rxnorm: '861007', display: 'metformin hydrochloride 500 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (500 mg) by mouth twice daily with meals.', 2, tablet(1)), quantity: tablet(180), daysSupply: 90, refills: 3 }),
  atorvastatin: drug({ key: 'atorvastatin', rxnorm: '617310', display: 'atorvastatin 20 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (20 mg) by mouth at bedtime.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  simvastatin: drug({ key: 'simvastatin', rxnorm: '312961', display: 'simvastatin 20 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (20 mg) by mouth in the evening.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  levothyroxine: drug({ key: 'levothyroxine', rxnorm: '966222', display: 'levothyroxine sodium 0.05 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (50 mcg) by mouth every morning on an empty stomach.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  warfarin: drug({ key: 'warfarin', rxnorm: '855332', display: 'warfarin sodium 5 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (5 mg) by mouth once daily or as directed by the anticoagulation clinic.', 1, tablet(1)), quantity: tablet(30), daysSupply: 30, refills: 2 }),
  clopidogrel: drug({ key: 'clopidogrel', rxnorm: '309362', display: 'clopidogrel 75 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (75 mg) by mouth once daily.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  albuterol: drug({ key: 'albuterol', rxnorm: '745679', display: '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler', chronic: true,
    dosage: { sequence: 1, text: 'Inhale 2 puffs every 4 to 6 hours as needed for wheezing or shortness of breath.', timing: { repeat: { frequency: 1, period: 4, periodMax: 6, periodUnit: 'h' } }, asNeededBoolean: true, route: INHALED, doseAndRate: [{ doseQuantity: puff(2) }] },
    quantity: inhaler(1), daysSupply: 30, refills: 5 }),
  fluticasone: drug({ key: 'fluticasone', rxnorm: '895994', display: '120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler', chronic: true,
    dosage: daily('Inhale 2 puffs twice daily. Rinse mouth after use.', 2, puff(2), INHALED), quantity: inhaler(1), daysSupply: 30, refills: 5 }),
  sertraline: drug({ key: 'sertraline', rxnorm: '312940', display: 'sertraline 50 MG Oral Tablet', chronic: true, sensitivity: 'PSY',
    dosage: daily('Take 1 tablet (50 mg) by mouth once daily.', 1, tablet(1)), quantity: tablet(30), daysSupply: 30, refills: 5 }),
  donepezil: drug({ key: 'donepezil', rxnorm: '997224', display: 'donepezil hydrochloride 10 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (10 mg) by mouth at bedtime.', 1, tablet(1)), quantity: tablet(90), daysSupply: 90, refills: 3 }),
  cetirizine: drug({ key: 'cetirizine', rxnorm: '1014676', display: 'cetirizine hydrochloride 5 MG Oral Tablet', chronic: true,
    dosage: daily('Take 1 tablet (5 mg) by mouth once daily during allergy season.', 1, tablet(1)), quantity: tablet(30), daysSupply: 30, refills: 5 }),
  amoxicillin: drug({ key: 'amoxicillin', rxnorm: '308182', display: 'amoxicillin 250 MG Oral Capsule', chronic: false, avoidIfAllergic: 'penicillin',
    dosage: daily('Take 2 capsules (500 mg) by mouth twice daily for 10 days.', 2, capsule(2)), quantity: capsule(40), daysSupply: 10, refills: 0 }),
  amoxicillinClavulanate: drug({ key: 'amoxicillin-clavulanate', rxnorm: '562251', display: 'amoxicillin 250 MG / clavulanate 125 MG Oral Tablet', chronic: false, avoidIfAllergic: 'penicillin',
    dosage: daily('Take 1 tablet by mouth every 8 hours for 7 days.', 3, tablet(1)), quantity: tablet(21), daysSupply: 7, refills: 0 }),
  trimethoprimSulfa: drug({ key: 'sulfamethoxazole-trimethoprim', rxnorm: '198335', display: 'sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet', chronic: false, avoidIfAllergic: 'sulfonamide',
    dosage: daily('Take 1 tablet by mouth twice daily for 3 days.', 2, tablet(1)), quantity: tablet(6), daysSupply: 3, refills: 0 }),
  acetaminophen: drug({ key: 'acetaminophen', rxnorm: '313782', display: 'acetaminophen 325 MG Oral Tablet', chronic: false,
    dosage: daily('Take 2 tablets (650 mg) by mouth every 6 hours as needed for pain or fever.', 4, tablet(2), ORAL, true), quantity: tablet(40), daysSupply: 5, refills: 0 }),
  ibuprofen: drug({ key: 'ibuprofen', rxnorm: '310965', display: 'ibuprofen 200 MG Oral Tablet', chronic: false,
    dosage: daily('Take 2 tablets (400 mg) by mouth every 6 hours as needed for pain. Take with food.', 4, tablet(2), ORAL, true), quantity: tablet(40), daysSupply: 5, refills: 0 }),
  naproxen: drug({ key: 'naproxen', rxnorm: '849574', display: 'naproxen sodium 220 MG Oral Tablet', chronic: false,
    dosage: daily('Take 1 tablet (220 mg) by mouth every 12 hours as needed for pain.', 2, tablet(1), ORAL, true), quantity: tablet(20), daysSupply: 10, refills: 0 }),
  prednisone: drug({ key: 'prednisone', rxnorm: '312617', display: 'predniSONE 5 MG Oral Tablet', chronic: false,
    dosage: daily('Take 8 tablets (40 mg) by mouth once daily for 5 days.', 1, tablet(8)), quantity: tablet(40), daysSupply: 5, refills: 0 }),
  oxycodoneAcetaminophen: drug({ key: 'oxycodone-acetaminophen', rxnorm: '1049221', display: 'acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet', chronic: false,
    dosage: daily('Take 1 tablet by mouth every 6 hours as needed for severe pain.', 4, tablet(1), ORAL, true), quantity: tablet(12), daysSupply: 3, refills: 0 }),
} as const satisfies Record<string, Drug>;

export type DrugKey = keyof typeof DRUGS;

/** Shared Medication id of a long-term drug. */
export function medicationId(d: Drug): string {
  return `med-${d.key}`;
}
