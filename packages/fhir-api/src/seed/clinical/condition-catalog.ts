/**
 * Conditions with their SNOMED CT and ICD-10-CM codes, who gets them (age, sex, prevalence), and
 * what follows from them: long-term drugs, monitoring labs, a treatment goal, a specialist.
 */
import type { Gender } from '../demographics.js';
import type { Specialty } from '../shared.js';
import type { Sensitivity } from '../terminology.js';
import type { DrugKey } from './drugs.js';
import type { PanelKey } from './lab-catalog.js';

export type ConditionKey =
  | 'hypertension' | 'diabetes' | 'hyperlipidemia' | 'asthma' | 'hypothyroidism' | 'obesity' | 'gerd'
  | 'kneeOsteoarthritis' | 'atrialFibrillation' | 'ckd3' | 'copd' | 'allergicRhinitis' | 'atopicDermatitis'
  | 'osteoporosis' | 'dementia' | 'coronaryDisease' | 'migraine' | 'depression' | 'anxiety' | 'alcoholUse';

export interface GoalTemplate {
  text: string;
  /** LOINC measure and target range, when the goal is a number. */
  measure?: { loinc: string; display: string; low?: number; high?: number; unit: string };
}

export interface ChronicCondition {
  key: ConditionKey;
  snomed: readonly [string, string];
  icd10: readonly [string, string];
  minAge: number;
  maxAge?: number;
  sex?: Gender;
  /** Probability of having it at a given age (only consulted when minAge ≤ age ≤ maxAge). */
  prevalence: (age: number) => number;
  drugs: readonly DrugKey[];
  labs: readonly PanelKey[];
  specialist?: Specialty;
  goal?: GoalTemplate;
  sensitivity?: Sensitivity;
}

const rising = (base: number, perYear: number, from: number, cap: number) => (age: number) => Math.min(cap, base + perYear * Math.max(0, age - from));

export const CHRONIC: Record<ConditionKey, ChronicCondition> = {
  hypertension: { key: 'hypertension', snomed: ['59621000', 'Essential hypertension (disorder)'], icd10: ['I10', 'Essential (primary) hypertension'],
    minAge: 25, prevalence: rising(0.06, 0.009, 30, 0.65), drugs: ['lisinopril'], labs: ['bmp'],
    goal: { text: 'Blood pressure below 130/80 mmHg', measure: { loinc: '8480-6', display: 'Systolic blood pressure', high: 130, unit: 'mm[Hg]' } } },
  diabetes: { key: 'diabetes', snomed: ['44054006', 'Diabetes mellitus type 2 (disorder)'], icd10: ['E11.9', 'Type 2 diabetes mellitus without complications'],
    minAge: 30, prevalence: rising(0.03, 0.004, 30, 0.27), drugs: ['metformin'], labs: ['a1c', 'bmp'], specialist: 'endocrinology',
    goal: { text: 'Hemoglobin A1c below 7.0%', measure: { loinc: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', high: 7, unit: '%' } } },
  hyperlipidemia: { key: 'hyperlipidemia', snomed: ['55822004', 'Hyperlipidemia (disorder)'], icd10: ['E78.5', 'Hyperlipidemia, unspecified'],
    minAge: 30, prevalence: rising(0.06, 0.006, 30, 0.45), drugs: ['atorvastatin'], labs: ['lipid'],
    goal: { text: 'LDL cholesterol below 100 mg/dL', measure: { loinc: '13457-7', display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation', high: 100, unit: 'mg/dL' } } },
  asthma: { key: 'asthma', snomed: ['195967001', 'Asthma (disorder)'], icd10: ['J45.909', 'Unspecified asthma, uncomplicated'],
    minAge: 2, prevalence: () => 0.08, drugs: ['albuterol', 'fluticasone'], labs: [],
    goal: { text: 'No night-time asthma symptoms and no emergency visits for asthma' } },
  hypothyroidism: { key: 'hypothyroidism', snomed: ['40930008', 'Hypothyroidism (disorder)'], icd10: ['E03.9', 'Hypothyroidism, unspecified'],
    minAge: 20, prevalence: rising(0.03, 0.001, 20, 0.1), drugs: ['levothyroxine'], labs: ['tsh'] },
  obesity: { key: 'obesity', snomed: ['414916001', 'Obesity (disorder)'], icd10: ['E66.9', 'Obesity, unspecified'],
    minAge: 18, prevalence: () => 0, drugs: [], labs: ['a1c'],
    goal: { text: 'Lose 5% of body weight within 6 months through diet and exercise' } },
  gerd: { key: 'gerd', snomed: ['235595009', 'Gastroesophageal reflux disease (disorder)'], icd10: ['K21.9', 'Gastro-esophageal reflux disease without esophagitis'],
    minAge: 18, prevalence: () => 0.1, drugs: [], labs: [] },
  kneeOsteoarthritis: { key: 'kneeOsteoarthritis', snomed: ['239873007', 'Osteoarthritis of knee (disorder)'], icd10: ['M17.9', 'Osteoarthritis of knee, unspecified'],
    minAge: 50, prevalence: rising(0.06, 0.005, 50, 0.3), drugs: [], labs: [], specialist: 'orthopedics',
    goal: { text: 'Walk 30 minutes a day with pain no worse than 3 out of 10' } },
  atrialFibrillation: { key: 'atrialFibrillation', snomed: ['49436004', 'Atrial fibrillation (disorder)'], icd10: ['I48.91', 'Unspecified atrial fibrillation'],
    minAge: 60, prevalence: rising(0.03, 0.004, 60, 0.15), drugs: ['warfarin'], labs: ['inr'], specialist: 'cardiology',
    goal: { text: 'INR between 2.0 and 3.0', measure: { loinc: '6301-6', display: 'INR in Platelet poor plasma by Coagulation assay', low: 2, high: 3, unit: '{INR}' } } },
  ckd3: { key: 'ckd3', snomed: ['433144002', 'Chronic kidney disease stage 3 (disorder)'], icd10: ['N18.30', 'Chronic kidney disease, stage 3 unspecified'],
    minAge: 55, prevalence: rising(0.03, 0.003, 55, 0.12), drugs: [], labs: ['bmp'] },
  copd: { key: 'copd', snomed: ['13645005', 'Chronic obstructive lung disease (disorder)'], icd10: ['J44.9', 'Chronic obstructive pulmonary disease, unspecified'],
    minAge: 45, prevalence: () => 0, drugs: ['albuterol', 'fluticasone'], labs: [],
    goal: { text: 'Quit smoking and keep oxygen saturation at or above 92%' } },
  allergicRhinitis: { key: 'allergicRhinitis', snomed: ['61582004', 'Allergic rhinitis (disorder)'], icd10: ['J30.9', 'Allergic rhinitis, unspecified'],
    minAge: 3, prevalence: () => 0.12, drugs: ['cetirizine'], labs: [] },
  atopicDermatitis: { key: 'atopicDermatitis', snomed: ['24079001', 'Atopic dermatitis (disorder)'], icd10: ['L20.9', 'Atopic dermatitis, unspecified'],
    minAge: 0, maxAge: 17, prevalence: () => 0.1, drugs: [], labs: [] },
  osteoporosis: { key: 'osteoporosis', snomed: ['64859006', 'Osteoporosis (disorder)'], icd10: ['M81.0', 'Age-related osteoporosis without current pathological fracture'],
    minAge: 60, sex: 'female', prevalence: rising(0.08, 0.006, 60, 0.3), drugs: [], labs: [] },
  dementia: { key: 'dementia', snomed: ['52448006', 'Dementia (disorder)'], icd10: ['F03.90', 'Unspecified dementia without behavioral disturbance'],
    minAge: 75, prevalence: rising(0.06, 0.01, 75, 0.3), drugs: ['donepezil'], labs: [] },
  coronaryDisease: { key: 'coronaryDisease', snomed: ['53741008', 'Coronary arteriosclerosis (disorder)'], icd10: ['I25.10', 'Atherosclerotic heart disease of native coronary artery without angina pectoris'],
    minAge: 50, prevalence: rising(0.03, 0.004, 50, 0.2), drugs: ['clopidogrel', 'atorvastatin'], labs: ['lipid'], specialist: 'cardiology' },
  migraine: { key: 'migraine', snomed: ['37796009', 'Migraine (disorder)'], icd10: ['G43.909', 'Migraine, unspecified, not intractable, without status migrainosus'],
    minAge: 12, maxAge: 65, prevalence: () => 0.07, drugs: [], labs: [] },
  depression: { key: 'depression', snomed: ['370143000', 'Major depressive disorder (disorder)'], icd10: ['F32.9', 'Major depressive disorder, single episode, unspecified'],
    minAge: 12, prevalence: () => 0.07, drugs: ['sertraline'], labs: [], specialist: 'psychiatry', sensitivity: 'PSY',
    goal: { text: 'PHQ-9 score below 5 (remission)', measure: { loinc: '44261-6', display: 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]', high: 5, unit: '{score}' } } },
  anxiety: { key: 'anxiety', snomed: ['21897009', 'Generalized anxiety disorder (disorder)'], icd10: ['F41.1', 'Generalized anxiety disorder'],
    minAge: 12, prevalence: () => 0.05, drugs: ['sertraline'], labs: [], specialist: 'psychiatry', sensitivity: 'PSY' },
  alcoholUse: { key: 'alcoholUse', snomed: ['7200002', 'Alcoholism (disorder)'], icd10: ['F10.20', 'Alcohol dependence, uncomplicated'],
    minAge: 21, prevalence: () => 0.03, drugs: [], labs: ['hepatic'], sensitivity: 'ETH' },
};

export interface AcuteDiagnosis {
  key: string;
  snomed: readonly [string, string];
  icd10: readonly [string, string];
  minAge: number;
  maxAge?: number;
  labs: readonly PanelKey[];
  drugs: readonly DrugKey[];
  imaging?: ImagingKey;
  /** Which care setting it brings people to. */
  setting: 'clinic' | 'emergency' | 'inpatient';
  complaint: string;
}

export type ImagingKey = 'usAbdomen' | 'mrBrain' | 'ctChest' | 'ctHead';

export const ACUTE: readonly AcuteDiagnosis[] = [
  { key: 'viral-pharyngitis', snomed: ['195662009', 'Acute viral pharyngitis (disorder)'], icd10: ['J02.9', 'Acute pharyngitis, unspecified'], minAge: 2, labs: ['strep'], drugs: ['acetaminophen'], setting: 'clinic', complaint: 'sore throat for 2 days' },
  { key: 'strep-throat', snomed: ['43878008', 'Streptococcal sore throat (disorder)'], icd10: ['J02.0', 'Streptococcal pharyngitis'], minAge: 3, maxAge: 40, labs: ['strepPositive'], drugs: ['amoxicillin'], setting: 'clinic', complaint: 'sore throat and fever' },
  { key: 'bronchitis', snomed: ['10509002', 'Acute bronchitis (disorder)'], icd10: ['J20.9', 'Acute bronchitis, unspecified'], minAge: 5, labs: [], drugs: ['ibuprofen'], setting: 'clinic', complaint: 'cough for 10 days' },
  { key: 'otitis-media', snomed: ['65363002', 'Otitis media (disorder)'], icd10: ['H66.90', 'Otitis media, unspecified, unspecified ear'], minAge: 0, maxAge: 10, labs: [], drugs: ['amoxicillin'], setting: 'clinic', complaint: 'ear pain and fever' },
  { key: 'sinusitis', snomed: ['444814009', 'Viral sinusitis (disorder)'], icd10: ['J01.90', 'Acute sinusitis, unspecified'], minAge: 5, labs: [], drugs: ['acetaminophen'], setting: 'clinic', complaint: 'facial pressure and congestion' },
  { key: 'uti', snomed: ['68566005', 'Urinary tract infectious disease (disorder)'], icd10: ['N39.0', 'Urinary tract infection, site not specified'], minAge: 16, labs: [], drugs: ['trimethoprimSulfa'], setting: 'clinic', complaint: 'burning on urination' },
  { key: 'ankle-sprain', snomed: ['44465007', 'Sprain of ankle (disorder)'], icd10: ['S93.409A', 'Sprain of unspecified ligament of unspecified ankle, initial encounter'], minAge: 8, labs: [], drugs: ['naproxen'], setting: 'clinic', complaint: 'ankle pain after a fall' },
  { key: 'low-back-pain', snomed: ['279039007', 'Low back pain (finding)'], icd10: ['M54.50', 'Low back pain, unspecified'], minAge: 20, labs: [], drugs: ['naproxen'], setting: 'clinic', complaint: 'low back pain for a week' },
  { key: 'covid-19', snomed: ['840539006', 'Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)'], icd10: ['U07.1', 'COVID-19'], minAge: 0, labs: ['covidPositive'], drugs: ['acetaminophen'], setting: 'clinic', complaint: 'fever, cough and loss of taste' },
  { key: 'headache', snomed: ['25064002', 'Headache (finding)'], icd10: ['R51.9', 'Headache, unspecified'], minAge: 12, labs: ['cbc'], drugs: ['acetaminophen'], imaging: 'ctHead', setting: 'emergency', complaint: 'sudden severe headache' },
  { key: 'concussion', snomed: ['110030002', 'Concussion injury of brain (disorder)'], icd10: ['S06.0X0A', 'Concussion without loss of consciousness, initial encounter'], minAge: 6, labs: [], drugs: ['acetaminophen'], imaging: 'ctHead', setting: 'emergency', complaint: 'head injury during sports' },
  { key: 'chest-pain', snomed: ['29857009', 'Chest pain (finding)'], icd10: ['R07.9', 'Chest pain, unspecified'], minAge: 30, labs: ['troponin', 'cbc', 'bmp'], drugs: [], imaging: 'ctChest', setting: 'emergency', complaint: 'chest pain for 3 hours' },
  { key: 'abdominal-pain', snomed: ['21522001', 'Abdominal pain (finding)'], icd10: ['R10.9', 'Unspecified abdominal pain'], minAge: 10, labs: ['cbc', 'bmp', 'hepatic'], drugs: ['acetaminophen'], imaging: 'usAbdomen', setting: 'emergency', complaint: 'right-sided abdominal pain' },
  { key: 'pneumonia', snomed: ['233604007', 'Pneumonia (disorder)'], icd10: ['J18.9', 'Pneumonia, unspecified organism'], minAge: 0, labs: ['cbc', 'bmp'], drugs: ['amoxicillinClavulanate'], imaging: 'ctChest', setting: 'inpatient', complaint: 'fever, productive cough and shortness of breath' },
];

/** Non-disease concerns (category health-concern), drawn by age. */
export interface HealthConcern {
  key: string;
  snomed: readonly [string, string];
  icd10?: readonly [string, string];
  minAge: number;
  probability: number;
  sdoh?: boolean;
  sensitivity?: Sensitivity;
}

export const HEALTH_CONCERNS: readonly HealthConcern[] = [
  { key: 'stress', snomed: ['73595000', 'Stress (finding)'], icd10: ['Z73.3', 'Stress, not elsewhere classified'], minAge: 18, probability: 0.08 },
  { key: 'fall-risk', snomed: ['129839007', 'At risk for falls (finding)'], icd10: ['Z91.81', 'History of falling'], minAge: 75, probability: 0.4 },
  { key: 'intimate-partner-abuse', snomed: ['706893006', 'Victim of intimate partner abuse (finding)'], minAge: 18, probability: 0.02, sensitivity: 'SDV' },
];

export const FOOD_INSECURITY = { snomed: ['733423003', 'Food insecurity (finding)'], icd10: ['Z59.41', 'Food insecurity'] } as const;
