/** Procedures (SNOMED CT, with CPT for billing) and the implants some of them leave behind. */
export type ImplantKey = 'pacemaker' | 'kneeProsthesis' | 'hipProsthesis' | 'coronaryStent';

export interface ProcedureDef {
  key: string;
  snomed: readonly [string, string];
  cpt: readonly [string, string, number];
  bodySite?: readonly [string, string];
  implant?: ImplantKey;
}

export interface ImplantDef {
  key: ImplantKey;
  snomed: readonly [string, string];
  manufacturer: string;
  model: string;
  /** GS1 company prefix + item reference (13 digits before the GTIN check digit). */
  gtinBase: string;
  yearsOfUse: number;
  procedure: ProcedureDef;
}

export const PROCEDURES = {
  colonoscopy: { key: 'colonoscopy', snomed: ['73761001', 'Colonoscopy (procedure)'], cpt: ['45378', 'Colonoscopy, flexible; diagnostic', 1450] },
  appendectomy: { key: 'appendectomy', snomed: ['80146002', 'Excision of appendix (procedure)'], cpt: ['44970', 'Laparoscopy, surgical, appendectomy', 9800], bodySite: ['66754008', 'Appendix structure (body structure)'] },
  tonsillectomy: { key: 'tonsillectomy', snomed: ['173422009', 'Tonsillectomy (procedure)'], cpt: ['42826', 'Tonsillectomy, primary or secondary; age 12 or over', 4200] },
  medicationReconciliation: { key: 'medication-reconciliation', snomed: ['430193006', 'Medication reconciliation (procedure)'], cpt: ['1111F', 'Discharge medications reconciled with the current medication list', 0] },
  sdohAssessment: { key: 'sdoh-assessment', snomed: ['710824005', 'Assessment of health and social care needs (procedure)'], cpt: ['96160', 'Administration of patient-focused health risk assessment instrument', 15] },
  depressionScreening: { key: 'depression-screening', snomed: ['171207006', 'Depression screening (procedure)'], cpt: ['96127', 'Brief emotional/behavioral assessment', 12] },
  pacemaker: { key: 'pacemaker', snomed: ['307280005', 'Implantation of cardiac pacemaker (procedure)'], cpt: ['33208', 'Insertion of new or replacement of permanent pacemaker with transvenous electrode(s); atrial and ventricular', 18500], bodySite: ['80891009', 'Heart structure (body structure)'], implant: 'pacemaker' },
  totalKnee: { key: 'total-knee', snomed: ['609588000', 'Total knee replacement (procedure)'], cpt: ['27447', 'Arthroplasty, knee, condyle and plateau; medial and lateral compartments', 32000], bodySite: ['72696002', 'Knee region structure (body structure)'], implant: 'kneeProsthesis' },
  totalHip: { key: 'total-hip', snomed: ['52734007', 'Total replacement of hip (procedure)'], cpt: ['27130', 'Arthroplasty, acetabular and proximal femoral prosthetic replacement (total hip arthroplasty)', 34000], bodySite: ['29836001', 'Hip region structure (body structure)'], implant: 'hipProsthesis' },
  coronaryStent: { key: 'coronary-stent', snomed: ['36969009', 'Placement of stent in coronary artery (procedure)'], cpt: ['92928', 'Percutaneous transcatheter placement of intracoronary stent(s); single major coronary artery or branch', 21000], bodySite: ['41801008', 'Coronary artery structure (body structure)'], implant: 'coronaryStent' },
} as const satisfies Record<string, ProcedureDef>;

export const IMPLANTS: Record<ImplantKey, ImplantDef> = {
  pacemaker: { key: 'pacemaker', snomed: ['14106009', 'Cardiac pacemaker, device (physical object)'], manufacturer: 'Northfield Cardiac Systems', model: 'NCS Sentinel DR', gtinBase: '0081234500011', yearsOfUse: 10, procedure: PROCEDURES.pacemaker },
  kneeProsthesis: { key: 'kneeProsthesis', snomed: ['109228008', 'Knee joint prosthesis (physical object)'], manufacturer: 'Keystone Orthopedics', model: 'Keystone TK-7 Total Knee System', gtinBase: '0081234500028', yearsOfUse: 20, procedure: PROCEDURES.totalKnee },
  hipProsthesis: { key: 'hipProsthesis', snomed: ['304120007', 'Total hip replacement prosthesis (physical object)'], manufacturer: 'Keystone Orthopedics', model: 'Keystone TH-3 Total Hip System', gtinBase: '0081234500035', yearsOfUse: 20, procedure: PROCEDURES.totalHip },
  coronaryStent: { key: 'coronaryStent', snomed: ['705643001', 'Coronary artery stent (physical object)'], manufacturer: 'Northfield Cardiac Systems', model: 'NCS Everflow DES 3.0 x 18 mm', gtinBase: '0081234500042', yearsOfUse: 30, procedure: PROCEDURES.coronaryStent },
};
