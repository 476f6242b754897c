/**
 * Laboratory tests (LOINC, UCUM unit, reference range) and the panels they are ordered in (with the
 * CPT code billed and the specimen drawn). Values are drawn per patient state, see labs.ts.
 */
import type { Sensitivity } from '../terminology.js';

export interface QuantTest {
  kind: 'quantity';
  loinc: string;
  display: string;
  /** UCUM code and the unit people read. */
  ucum: string;
  unit: string;
  low?: number;
  high?: number;
  /** Female range where it differs (hemoglobin, hematocrit, creatinine). */
  female?: { low?: number; high?: number };
  decimals: number;
}

export interface QualTest {
  kind: 'qualitative';
  loinc: string;
  display: string;
  /** NAA tests report detected/not detected, immunoassays positive/negative. */
  scale: 'detection' | 'presence';
}

export type LabTest = QuantTest | QualTest;

export type SpecimenKey = 'blood' | 'serum' | 'plasma' | 'urine' | 'throat' | 'nasopharynx';

export const SPECIMENS: Record<SpecimenKey, { snomed: [string, string]; v2: [string, string]; method: string }> = {
  blood: { snomed: ['119297000', 'Blood specimen (specimen)'], v2: ['BLD', 'Whole blood'], method: 'Venipuncture' },
  serum: { snomed: ['119364003', 'Serum specimen (specimen)'], v2: ['SER', 'Serum'], method: 'Venipuncture' },
  plasma: { snomed: ['119361006', 'Plasma specimen (specimen)'], v2: ['PLAS', 'Plasma'], method: 'Venipuncture' },
  urine: { snomed: ['122575003', 'Urine specimen (specimen)'], v2: ['UR', 'Urine'], method: 'Clean catch' },
  throat: { snomed: ['258529004', 'Throat swab (specimen)'], v2: ['THRT', 'Throat'], method: 'Swab' },
  nasopharynx: { snomed: ['258500001', 'Nasopharyngeal swab (specimen)'], v2: ['NSECR', 'Secretion, nasal'], method: 'Swab' },
};

export type PanelKey =
  | 'cbc' | 'bmp' | 'lipid' | 'a1c' | 'tsh' | 'hepatic' | 'inr' | 'troponin'
  | 'strep' | 'strepPositive' | 'covid' | 'covidPositive' | 'hiv' | 'chlamydia';

export interface Panel {
  key: PanelKey;
  loinc: string;
  display: string;
  cpt: readonly [string, string, number];
  specimen: SpecimenKey;
  tests: readonly LabTest[];
  /** For qualitative single tests: the chance of a positive result. */
  positiveRate?: number;
  sensitivity?: Sensitivity;
}

const q = (loinc: string, display: string, ucum: string, unit: string, low: number | undefined, high: number | undefined, decimals: number, female?: QuantTest['female']): QuantTest => ({
  kind: 'quantity', loinc, display, ucum, unit, decimals,
  ...(low === undefined ? {} : { low }), ...(high === undefined ? {} : { high }), ...(female ? { female } : {}),
});

export const TESTS = {
  wbc: q('6690-2', 'Leukocytes [#/volume] in Blood by Automated count', '10*3/uL', '10^3/uL', 4.5, 11, 1),
  rbc: q('789-8', 'Erythrocytes [#/volume] in Blood by Automated count', '10*6/uL', '10^6/uL', 4.5, 5.9, 2, { low: 4.1, high: 5.1 }),
  hemoglobin: q('718-7', 'Hemoglobin [Mass/volume] in Blood', 'g/dL', 'g/dL', 13.5, 17.5, 1, { low: 12, high: 15.5 }),
  hematocrit: q('4544-3', 'Hematocrit [Volume Fraction] of Blood by Automated count', '%', '%', 41, 53, 1, { low: 36, high: 46 }),
  platelets: q('777-3', 'Platelets [#/volume] in Blood by Automated count', '10*3/uL', '10^3/uL', 150, 400, 0),
  glucose: q('2345-7', 'Glucose [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 70, 99, 0),
  bun: q('3094-0', 'Urea nitrogen [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 7, 20, 0),
  creatinine: q('2160-0', 'Creatinine [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.74, 1.35, 2, { low: 0.59, high: 1.04 }),
  sodium: q('2951-2', 'Sodium [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 135, 145, 0),
  potassium: q('2823-3', 'Potassium [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 3.5, 5.1, 1),
  chloride: q('2075-0', 'Chloride [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 98, 107, 0),
  co2: q('2028-9', 'Carbon dioxide, total [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 22, 29, 0),
  calcium: q('17861-6', 'Calcium [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 8.6, 10.3, 1),
  cholesterol: q('2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', undefined, 200, 0),
  triglycerides: q('2571-8', 'Triglyceride [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', undefined, 150, 0),
  hdl: q('2085-9', 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 40, undefined, 0),
  ldl: q('13457-7', 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation', 'mg/dL', 'mg/dL', undefined, 100, 0),
  a1c: q('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood', '%', '%', 4, 5.6, 1),
  tsh: q('3016-3', 'Thyrotropin [Units/volume] in Serum or Plasma', 'm[IU]/L', 'mIU/L', 0.4, 4, 2),
  alt: q('1742-6', 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 'U/L', 7, 56, 0),
  ast: q('1920-8', 'Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 'U/L', 10, 40, 0),
  alkPhos: q('6768-6', 'Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 'U/L', 44, 147, 0),
  bilirubin: q('1975-2', 'Bilirubin.total [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.1, 1.2, 1),
  albumin: q('1751-7', 'Albumin [Mass/volume] in Serum or Plasma', 'g/dL', 'g/dL', 3.5, 5, 1),
  inr: q('6301-6', 'INR in Platelet poor plasma by Coagulation assay', '{INR}', 'INR', 0.8, 1.2, 1),
  troponin: q('10839-9', 'Troponin I.cardiac [Mass/volume] in Serum or Plasma', 'ng/mL', 'ng/mL', undefined, 0.04, 3),
  strep: { kind: 'qualitative', loinc: '78012-2', display: 'Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay', scale: 'presence' },
  covid: { kind: 'qualitative', loinc: '94500-6', display: 'SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection', scale: 'detection' },
  hiv: { kind: 'qualitative', loinc: '56888-1', display: 'HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay', scale: 'presence' },
  chlamydia: { kind: 'qualitative', loinc: '21613-5', display: 'Chlamydia trachomatis DNA [Presence] in Specimen by NAA with probe detection', scale: 'detection' },
} as const satisfies Record<string, LabTest>;

const T = TESTS;
const single = (key: PanelKey, test: LabTest, cpt: readonly [string, string, number], specimen: SpecimenKey, extra: Partial<Panel> = {}): Panel => ({
  key, loinc: test.loinc, display: test.display, cpt, specimen, tests: [test], ...extra,
});

export const PANELS: Record<PanelKey, Panel> = {
  cbc: { key: 'cbc', loinc: '58410-2', display: 'CBC panel - Blood by Automated count', cpt: ['85027', 'Blood count; complete (CBC), automated', 28], specimen: 'blood',
    tests: [T.wbc, T.rbc, T.hemoglobin, T.hematocrit, T.platelets] },
  bmp: { key: 'bmp', loinc: '51990-0', display: 'Basic metabolic panel - Blood', cpt: ['80048', 'Basic metabolic panel (Calcium, total)', 32], specimen: 'serum',
    tests: [T.glucose, T.bun, T.creatinine, T.sodium, T.potassium, T.chloride, T.co2, T.calcium] },
  lipid: { key: 'lipid', loinc: '24331-1', display: 'Lipid 1996 panel - Serum or Plasma', cpt: ['80061', 'Lipid panel', 45], specimen: 'serum',
    tests: [T.cholesterol, T.triglycerides, T.hdl, T.ldl] },
  hepatic: { key: 'hepatic', loinc: '24325-3', display: 'Hepatic function panel - Serum or Plasma', cpt: ['80076', 'Hepatic function panel', 38], specimen: 'serum',
    tests: [T.alt, T.ast, T.alkPhos, T.bilirubin, T.albumin] },
  a1c: single('a1c', T.a1c, ['83036', 'Hemoglobin; glycosylated (A1C)', 40], 'blood'),
  tsh: single('tsh', T.tsh, ['84443', 'Thyroid stimulating hormone (TSH)', 52], 'serum'),
  inr: single('inr', T.inr, ['85610', 'Prothrombin time', 18], 'plasma'),
  troponin: single('troponin', T.troponin, ['84484', 'Troponin, quantitative', 60], 'serum'),
  strep: single('strep', T.strep, ['87880', 'Infectious agent antigen detection by immunoassay with direct optical observation; Streptococcus, group A', 35], 'throat', { positiveRate: 0 }),
  strepPositive: single('strepPositive', T.strep, ['87880', 'Infectious agent antigen detection by immunoassay with direct optical observation; Streptococcus, group A', 35], 'throat', { positiveRate: 1 }),
  covid: single('covid', T.covid, ['87635', 'Infectious agent detection by nucleic acid; SARS-CoV-2, amplified probe technique', 95], 'nasopharynx', { positiveRate: 0.1 }),
  covidPositive: single('covidPositive', T.covid, ['87635', 'Infectious agent detection by nucleic acid; SARS-CoV-2, amplified probe technique', 95], 'nasopharynx', { positiveRate: 1 }),
  hiv: single('hiv', T.hiv, ['87389', 'Infectious agent antigen detection by immunoassay technique; HIV-1 antigen(s), with HIV-1 and HIV-2 antibodies', 55], 'serum', { positiveRate: 0, sensitivity: 'HIV' }),
  chlamydia: single('chlamydia', T.chlamydia, ['87491', 'Infectious agent detection by nucleic acid; Chlamydia trachomatis, amplified probe technique', 85], 'urine', { positiveRate: 0.05, sensitivity: 'SEX' }),
};
