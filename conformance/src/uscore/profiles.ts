/**
 * The US Core 6.1.0 groups of the (g)(10) Single Patient API (catalogue §5.4/§5.5): per profile,
 * the SHALL searches (the first seeds the data; fixed values are searched one by one), the date
 * parameters whose comparators are SHALL, multipleOr parameters, `_include`, and the "delayed"
 * profiles read through references only. Optional groups (not in g10) are marked.
 */

export interface SearchSpec {
  params: string[];
}

export interface ProfileSpec {
  /** Short id (the profile's id without `us-core-`). */
  id: string;
  title: string;
  profile: string;
  type: string;
  /** SHALL search combinations; the first seeds the data. Empty for delayed profiles. */
  searches: SearchSpec[];
  /** Fixed values the first search runs one by one. */
  fixed?: Record<string, string[]>;
  /** Date parameters with SHALL gt/ge/lt/le. */
  comparators?: string[];
  multipleOr?: string[];
  include?: string;
  /** Read via references from other resources (Inferno `read_all_resources`). */
  delayed?: boolean;
  /** Not part of the g10 Single Patient API. */
  optional?: boolean;
}

const SD = 'http://hl7.org/fhir/us/core/StructureDefinition/';

const vital = (id: string, title: string, codes: string[], profile = `${SD}us-core-${id}`): ProfileSpec => ({
  id,
  title,
  profile,
  type: 'Observation',
  searches: [{ params: ['patient', 'code'] }, { params: ['patient', 'category', 'date'] }, { params: ['patient', 'category'] }],
  fixed: { code: codes },
  comparators: ['date'],
});

const observationByCategory = (id: string, title: string, categories: string[]): ProfileSpec => ({
  id,
  title,
  profile: `${SD}us-core-${id}`,
  type: 'Observation',
  searches: [{ params: ['patient', 'category'] }, { params: ['patient', 'code'] }, { params: ['patient', 'category', 'date'] }],
  fixed: { category: categories },
  comparators: ['date'],
});

const socialByCode = (id: string, title: string, codes: string[]): ProfileSpec => ({
  id,
  title,
  profile: `${SD}us-core-${id}`,
  type: 'Observation',
  searches: [{ params: ['patient', 'code'] }, { params: ['patient', 'category', 'date'] }, { params: ['patient', 'category'] }],
  fixed: { code: codes },
  comparators: ['date'],
});

export const US_CORE_6_PROFILES: ProfileSpec[] = [
  { id: 'patient', title: 'Patient', profile: `${SD}us-core-patient`, type: 'Patient', searches: [{ params: ['_id'] }, { params: ['identifier'] }, { params: ['name'] }, { params: ['birthdate', 'name'] }, { params: ['gender', 'name'] }] },
  { id: 'allergyintolerance', title: 'AllergyIntolerance', profile: `${SD}us-core-allergyintolerance`, type: 'AllergyIntolerance', searches: [{ params: ['patient'] }] },
  { id: 'careplan', title: 'CarePlan', profile: `${SD}us-core-careplan`, type: 'CarePlan', searches: [{ params: ['patient', 'category'] }], fixed: { category: ['assess-plan'] } },
  {
    id: 'careteam',
    title: 'CareTeam',
    profile: `${SD}us-core-careteam`,
    type: 'CareTeam',
    searches: [{ params: ['patient', 'status'] }],
    fixed: { status: ['proposed', 'active', 'suspended', 'inactive', 'entered-in-error'] },
  },
  {
    id: 'condition-encounter-diagnosis',
    title: 'Condition Encounter Diagnosis',
    profile: `${SD}us-core-condition-encounter-diagnosis`,
    type: 'Condition',
    searches: [{ params: ['patient', 'category'] }, { params: ['patient'] }],
    fixed: { category: ['encounter-diagnosis'] },
  },
  {
    id: 'condition-problems-health-concerns',
    title: 'Condition Problems and Health Concerns',
    profile: `${SD}us-core-condition-problems-health-concerns`,
    type: 'Condition',
    searches: [{ params: ['patient', 'category'] }, { params: ['patient'] }],
    fixed: { category: ['problem-list-item', 'health-concern'] },
  },
  { id: 'coverage', title: 'Coverage', profile: `${SD}us-core-coverage`, type: 'Coverage', searches: [{ params: ['patient'] }] },
  { id: 'implantable-device', title: 'Implantable Device', profile: `${SD}us-core-implantable-device`, type: 'Device', searches: [{ params: ['patient'] }] },
  {
    id: 'diagnosticreport-lab',
    title: 'DiagnosticReport for Laboratory Results Reporting',
    profile: `${SD}us-core-diagnosticreport-lab`,
    type: 'DiagnosticReport',
    searches: [{ params: ['patient', 'category'] }, { params: ['patient'] }, { params: ['patient', 'code'] }, { params: ['patient', 'category', 'date'] }],
    fixed: { category: ['LAB'] },
    comparators: ['date'],
  },
  {
    id: 'diagnosticreport-note',
    title: 'DiagnosticReport for Report and Note Exchange',
    profile: `${SD}us-core-diagnosticreport-note`,
    type: 'DiagnosticReport',
    searches: [{ params: ['patient', 'category'] }, { params: ['patient'] }, { params: ['patient', 'code'] }, { params: ['patient', 'category', 'date'] }],
    fixed: { category: ['LP29684-5', 'LP29708-2', 'LP7839-6'] },
    comparators: ['date'],
  },
  {
    id: 'documentreference',
    title: 'DocumentReference',
    profile: `${SD}us-core-documentreference`,
    type: 'DocumentReference',
    searches: [{ params: ['patient'] }, { params: ['_id'] }, { params: ['patient', 'type'] }, { params: ['patient', 'category', 'date'] }, { params: ['patient', 'category'] }],
    comparators: ['date'],
  },
  {
    id: 'encounter',
    title: 'Encounter',
    profile: `${SD}us-core-encounter`,
    type: 'Encounter',
    searches: [{ params: ['patient'] }, { params: ['_id'] }, { params: ['date', 'patient'] }],
    comparators: ['date'],
  },
  { id: 'goal', title: 'Goal', profile: `${SD}us-core-goal`, type: 'Goal', searches: [{ params: ['patient'] }] },
  { id: 'immunization', title: 'Immunization', profile: `${SD}us-core-immunization`, type: 'Immunization', searches: [{ params: ['patient'] }] },
  { id: 'medicationdispense', title: 'MedicationDispense', profile: `${SD}us-core-medicationdispense`, type: 'MedicationDispense', searches: [{ params: ['patient'] }], include: 'MedicationDispense:medication' },
  {
    id: 'medicationrequest',
    title: 'MedicationRequest',
    profile: `${SD}us-core-medicationrequest`,
    type: 'MedicationRequest',
    searches: [{ params: ['patient', 'intent'] }, { params: ['patient', 'intent', 'status'] }],
    fixed: { intent: ['proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'] },
    multipleOr: ['intent', 'status'],
    include: 'MedicationRequest:medication',
  },
  observationByCategory('observation-clinical-result', 'Observation Clinical Result', ['laboratory', 'exam', 'therapy', 'imaging', 'procedure', 'vital-signs', 'activity']),
  observationByCategory('observation-lab', 'Laboratory Result Observation', ['laboratory']),
  observationByCategory('observation-screening-assessment', 'Observation Screening Assessment', ['survey']),
  socialByCode('observation-occupation', 'Observation Occupation', ['11341-5']),
  socialByCode('observation-pregnancyintent', 'Observation Pregnancy Intent', ['86645-9']),
  socialByCode('observation-pregnancystatus', 'Observation Pregnancy Status', ['82810-3']),
  { ...socialByCode('observation-sexual-orientation', 'Observation Sexual Orientation', ['76690-7']), searches: [{ params: ['patient', 'code'] }], comparators: [], optional: true },
  socialByCode('smokingstatus', 'Smoking Status Observation', ['72166-2', '11367-0', '401201003', '782516008']),
  vital('blood-pressure', 'Blood Pressure', ['85354-9']),
  vital('bmi', 'BMI', ['39156-5']),
  vital('body-height', 'Body Height', ['8302-2']),
  vital('body-temperature', 'Body Temperature', ['8310-5']),
  vital('body-weight', 'Body Weight', ['29463-7']),
  vital('head-circumference', 'Head Circumference', ['9843-4']),
  vital('heart-rate', 'Heart Rate', ['8867-4']),
  vital('pediatric-bmi-for-age', 'Pediatric BMI for Age', ['59576-9'], `${SD}pediatric-bmi-for-age`),
  vital('head-occipital-frontal-circumference-percentile', 'Pediatric Head Occipital Frontal Circumference Percentile', ['8289-1'], `${SD}head-occipital-frontal-circumference-percentile`),
  vital('pediatric-weight-for-height', 'Pediatric Weight for Height', ['77606-2'], `${SD}pediatric-weight-for-height`),
  vital('pulse-oximetry', 'Pulse Oximetry', ['59408-5', '2708-6']),
  vital('respiratory-rate', 'Respiratory Rate', ['9279-1']),
  { id: 'procedure', title: 'Procedure', profile: `${SD}us-core-procedure`, type: 'Procedure', searches: [{ params: ['patient'] }, { params: ['patient', 'date'] }], comparators: ['date'] },
  {
    id: 'servicerequest',
    title: 'ServiceRequest',
    profile: `${SD}us-core-servicerequest`,
    type: 'ServiceRequest',
    searches: [{ params: ['patient'] }, { params: ['_id'] }, { params: ['patient', 'code'] }, { params: ['patient', 'category', 'authored'] }, { params: ['patient', 'category'] }],
    comparators: ['authored'],
  },
  { id: 'organization', title: 'Organization', profile: `${SD}us-core-organization`, type: 'Organization', searches: [], delayed: true },
  { id: 'practitioner', title: 'Practitioner', profile: `${SD}us-core-practitioner`, type: 'Practitioner', searches: [], delayed: true },
  { id: 'provenance', title: 'Provenance', profile: `${SD}us-core-provenance`, type: 'Provenance', searches: [], delayed: true },
  { id: 'relatedperson', title: 'RelatedPerson', profile: `${SD}us-core-relatedperson`, type: 'RelatedPerson', searches: [], delayed: true },
  { id: 'specimen', title: 'Specimen', profile: `${SD}us-core-specimen`, type: 'Specimen', searches: [], delayed: true },
  { id: 'location', title: 'Location', profile: `${SD}us-core-location`, type: 'Location', searches: [], delayed: true },
  { id: 'practitionerrole', title: 'PractitionerRole', profile: `${SD}us-core-practitionerrole`, type: 'PractitionerRole', searches: [], delayed: true, optional: true },
];

/** Profiles g10 requires in the CapabilityStatement's supportedProfile (US Core 6.1 variant). */
export const G10_REQUIRED_PROFILES_6 = [
  'us-core-allergyintolerance', 'us-core-careplan', 'us-core-careteam', 'us-core-condition-encounter-diagnosis', 'us-core-condition-problems-health-concerns',
  'us-core-coverage', 'us-core-implantable-device', 'us-core-diagnosticreport-lab', 'us-core-diagnosticreport-note', 'us-core-documentreference',
  'us-core-encounter', 'us-core-goal', 'us-core-immunization', 'us-core-location', 'us-core-medicationdispense', 'us-core-medicationrequest',
  'us-core-observation-lab', 'us-core-blood-pressure', 'us-core-bmi', 'us-core-head-circumference', 'us-core-body-height', 'us-core-body-weight',
  'us-core-body-temperature', 'us-core-heart-rate', 'pediatric-bmi-for-age', 'head-occipital-frontal-circumference-percentile',
  'pediatric-weight-for-height', 'us-core-pulse-oximetry', 'us-core-respiratory-rate', 'us-core-smokingstatus', 'us-core-observation-clinical-result',
  'us-core-observation-occupation', 'us-core-observation-pregnancyintent', 'us-core-observation-pregnancystatus', 'us-core-observation-screening-assessment',
  'us-core-organization', 'us-core-patient', 'us-core-practitioner', 'us-core-procedure', 'us-core-provenance', 'us-core-relatedperson',
  'us-core-servicerequest', 'us-core-specimen',
].map((id) => `${SD}${id}`);

/** DocumentReference types and DiagnosticReport categories the Clinical Notes guidance requires. */
export const CLINICAL_NOTE_TYPES = ['11488-4', '18842-5', '34117-2', '28570-0', '11506-3', '18748-4', '11502-2', '11526-1'];
export const CLINICAL_REPORT_CATEGORIES = ['LP29708-2', 'LP7839-6', 'LP29684-5'];
