/**
 * The non-patient resources every record points at: one health system (hospital, clinics, lab,
 * pharmacy), three payers, a dozen clinicians, their roles, Direct addresses and sites, and the formulary. Fixed
 * tables rather than random ones, so ids such as Practitioner/prac-1 never change with the seed.
 */
import type { Address, Endpoint, Location, Medication, Organization, Practitioner, PractitionerRole, Resource } from '@medplum/fhirtypes';
import { DRUGS, medicationId, type Drug } from './clinical/drugs.js';
import { SYSTEM, concept, ref } from './terminology.js';

const CITY = { city: 'Springfield', state: 'MA', postalCode: '01103', country: 'US' };
const addr = (line: string): Address => ({ use: 'work', line: [line], ...CITY });

export type OrgKey = 'hospital' | 'familyMedicine' | 'childrens' | 'lab' | 'pharmacy' | 'commercialPayer' | 'medicare' | 'medicaid';

interface OrgRow {
  id: string;
  name: string;
  type: 'prov' | 'pay';
  identifier: { system: string; value: string };
  line: string;
  phone: string;
  partOf?: string;
}

export const ORGS: Record<OrgKey, OrgRow> = {
  hospital: { id: 'org-1', name: 'Riverside General Hospital', type: 'prov', identifier: { system: SYSTEM.npi, value: npi('174839201') }, line: '100 Riverside Avenue', phone: '413-555-0100' },
  familyMedicine: { id: 'org-2', name: 'Riverside Family Medicine', type: 'prov', identifier: { system: SYSTEM.npi, value: npi('162738495') }, line: '250 Main Street', phone: '413-555-0120', partOf: 'org-1' },
  childrens: { id: 'org-3', name: "Riverside Children's Clinic", type: 'prov', identifier: { system: SYSTEM.npi, value: npi('153627384') }, line: '260 Main Street', phone: '413-555-0130', partOf: 'org-1' },
  lab: { id: 'org-4', name: 'Riverside Clinical Laboratory', type: 'prov', identifier: { system: SYSTEM.clia, value: '22D2045678' }, line: '100 Riverside Avenue, Building C', phone: '413-555-0140', partOf: 'org-1' },
  pharmacy: { id: 'org-5', name: 'Riverside Community Pharmacy', type: 'prov', identifier: { system: SYSTEM.npi, value: npi('148273645') }, line: '12 Market Square', phone: '413-555-0150', partOf: 'org-1' },
  commercialPayer: { id: 'org-6', name: 'Acme Health Plan', type: 'pay', identifier: { system: SYSTEM.naic, value: '60054' }, line: '1 Insurance Plaza', phone: '800-555-0160' },
  medicare: { id: 'org-7', name: 'Medicare', type: 'pay', identifier: { system: SYSTEM.naic, value: '00000' }, line: '7500 Security Boulevard', phone: '800-555-0170' },
  medicaid: { id: 'org-8', name: 'Commonwealth Medicaid', type: 'pay', identifier: { system: SYSTEM.naic, value: '00001' }, line: '1 Ashburton Place', phone: '800-555-0180' },
};

export type LocationKey = 'hospital' | 'emergency' | 'familyClinic' | 'childrensClinic' | 'imaging' | 'lab' | 'pharmacy';

interface LocationRow {
  id: string;
  name: string;
  type: [string, string];
  org: OrgKey;
  line: string;
}

export const LOCATIONS: Record<LocationKey, LocationRow> = {
  hospital: { id: 'loc-1', name: 'Riverside General Hospital', type: ['HOSP', 'Hospital'], org: 'hospital', line: '100 Riverside Avenue' },
  emergency: { id: 'loc-2', name: 'Riverside General Emergency Department', type: ['ER', 'Emergency room'], org: 'hospital', line: '100 Riverside Avenue' },
  familyClinic: { id: 'loc-3', name: 'Riverside Family Medicine Clinic', type: ['FMC', 'Family medicine clinic'], org: 'familyMedicine', line: '250 Main Street' },
  childrensClinic: { id: 'loc-4', name: "Riverside Children's Clinic", type: ['PEDC', 'Pediatrics clinic'], org: 'childrens', line: '260 Main Street' },
  imaging: { id: 'loc-5', name: 'Riverside Imaging Center', type: ['RADDX', 'Radiology diagnostics or therapeutics unit'], org: 'hospital', line: '100 Riverside Avenue, Building B' },
  lab: { id: 'loc-6', name: 'Riverside Clinical Laboratory', type: ['HLAB', 'Hospital laboratory'], org: 'lab', line: '100 Riverside Avenue, Building C' },
  pharmacy: { id: 'loc-7', name: 'Riverside Community Pharmacy', type: ['OUTPHARM', 'Outpatient pharmacy'], org: 'pharmacy', line: '12 Market Square' },
};

export type Specialty = 'family' | 'pediatrics' | 'internal' | 'cardiology' | 'psychiatry' | 'radiology' | 'emergency' | 'orthopedics' | 'endocrinology' | 'nursePractitioner' | 'obgyn' | 'pathology' | 'gastroenterology';

export interface Clinician {
  id: string;
  roleId: string;
  given: string;
  family: string;
  suffix: string;
  gender: 'male' | 'female';
  specialty: Specialty;
  taxonomy: [string, string];
  /** SNOMED occupation, used as the CareTeam member role. */
  occupation: [string, string];
  org: OrgKey;
  location: LocationKey;
  npi: string;
}

function clinician(n: number, given: string, family: string, suffix: string, gender: 'male' | 'female', specialty: Specialty, taxonomy: [string, string], occupation: [string, string], org: OrgKey, location: LocationKey): Clinician {
  return { id: `prac-${n}`, roleId: `prole-${n}`, given, family, suffix, gender, specialty, taxonomy, occupation, org, location, npi: npi(String(190000000 + n * 7919).slice(0, 9)) };
}

const PHYSICIAN: [string, string] = ['309343006', 'Physician (occupation)'];
export const CLINICIANS: readonly Clinician[] = [
  clinician(1, 'William', 'Osler', 'MD', 'male', 'family', ['207Q00000X', 'Family Medicine Physician'], ['446050000', 'Primary care physician (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(2, 'Amara', 'Okafor', 'MD', 'female', 'pediatrics', ['208000000X', 'Pediatrics Physician'], ['82296001', 'Pediatrician (occupation)'], 'childrens', 'childrensClinic'),
  clinician(3, 'Daniel', 'Kim', 'MD', 'male', 'internal', ['207R00000X', 'Internal Medicine Physician'], ['446050000', 'Primary care physician (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(4, 'Elena', 'Petrova', 'MD', 'female', 'cardiology', ['207RC0000X', 'Cardiovascular Disease Physician'], ['17561000', 'Cardiologist (occupation)'], 'hospital', 'hospital'),
  clinician(5, 'Rafael', 'Mendes', 'MD', 'male', 'psychiatry', ['2084P0800X', 'Psychiatry Physician'], ['80584001', 'Psychiatrist (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(6, 'Hannah', 'Lee', 'MD', 'female', 'radiology', ['2085R0202X', 'Diagnostic Radiology Physician'], ['66862007', 'Radiologist (occupation)'], 'hospital', 'imaging'),
  clinician(7, 'Marcus', 'Johnson', 'MD', 'male', 'emergency', ['207P00000X', 'Emergency Medicine Physician'], PHYSICIAN, 'hospital', 'emergency'),
  clinician(8, 'Priya', 'Raman', 'MD', 'female', 'orthopedics', ['207X00000X', 'Orthopaedic Surgery Physician'], ['22731001', 'Orthopedic surgeon (occupation)'], 'hospital', 'hospital'),
  clinician(9, 'Sarah', 'Cohen', 'MD', 'female', 'endocrinology', ['207RE0101X', 'Endocrinology, Diabetes & Metabolism Physician'], ['61894003', 'Endocrinologist (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(10, 'Grace', 'Mwangi', 'NP', 'female', 'nursePractitioner', ['363LF0000X', 'Family Nurse Practitioner'], ['224571005', 'Nurse practitioner (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(11, 'Thomas', 'Becker', 'MD', 'male', 'obgyn', ['207V00000X', 'Obstetrics & Gynecology Physician'], ['11935004', 'Obstetrician (occupation)'], 'familyMedicine', 'familyClinic'),
  clinician(12, 'Wei', 'Li', 'MD', 'male', 'pathology', ['207ZP0102X', 'Anatomic Pathology & Clinical Pathology Physician'], ['81464008', 'Clinical pathologist (occupation)'], 'lab', 'lab'),
  clinician(13, 'Nadia', 'Haddad', 'MD', 'female', 'gastroenterology', ['207RG0100X', 'Gastroenterology Physician'], ['71838004', 'Gastroenterologist (occupation)'], 'hospital', 'hospital'),
];

/** The practitioner the demo `clinician` login is (a family physician with many patients). */
export const CLINICIAN_PRACTITIONER_ID = 'prac-1';

export function clinicianBy(specialty: Specialty): Clinician {
  return CLINICIANS.find((c) => c.specialty === specialty)!;
}

export const orgRef = (key: OrgKey) => ref('Organization', ORGS[key].id, ORGS[key].name);
export const locationRef = (key: LocationKey) => ref('Location', LOCATIONS[key].id, LOCATIONS[key].name);
export const practitionerRef = (c: Clinician) => ref('Practitioner', c.id, `${c.given} ${c.family}, ${c.suffix}`);
/** The clinician in their role at their organisation (US Core PractitionerRole). */
export const practitionerRoleRef = (c: Clinician) => ref('PractitionerRole', c.roleId, `${c.given} ${c.family}, ${c.suffix} (${c.taxonomy[1]})`);
/** Each clinician's Direct secure-messaging address, the endpoint of their role. */
const endpointId = (c: Clinician) => `endpoint-${c.id.slice('prac-'.length)}`;
const directAddress = (c: Clinician) => `${c.given}.${c.family}@direct.riverside.example.org`.toLowerCase();

export function sharedResources(): Resource[] {
  const out: Resource[] = [];
  for (const o of Object.values(ORGS)) out.push(organization(o));
  for (const l of Object.values(LOCATIONS)) out.push(location(l));
  for (const c of CLINICIANS) out.push(practitioner(c), practitionerRole(c));
  for (const c of CLINICIANS) out.push(endpoint(c));
  for (const d of Object.values(DRUGS) as Drug[]) if (d.chronic) out.push(medication(d));
  return out;
}

function organization(o: OrgRow): Organization {
  return {
    resourceType: 'Organization',
    id: o.id,
    identifier: [o.identifier],
    active: true,
    type: [concept(SYSTEM.organizationType, o.type, o.type === 'pay' ? 'Payer' : 'Healthcare Provider')],
    name: o.name,
    telecom: [{ system: 'phone', value: o.phone, use: 'work' }],
    address: [addr(o.line)],
    ...(o.partOf ? { partOf: ref('Organization', o.partOf) } : {}),
  };
}

function location(l: LocationRow): Location {
  return {
    resourceType: 'Location',
    id: l.id,
    status: 'active',
    name: l.name,
    mode: 'instance',
    type: [concept(SYSTEM.roleCode, l.type[0], l.type[1])],
    telecom: [{ system: 'phone', value: ORGS[l.org].phone, use: 'work' }],
    address: addr(l.line),
    managingOrganization: orgRef(l.org),
  };
}

function practitioner(c: Clinician): Practitioner {
  return {
    resourceType: 'Practitioner',
    id: c.id,
    identifier: [{ system: SYSTEM.npi, value: c.npi }],
    active: true,
    name: [{ use: 'official', family: c.family, given: [c.given], suffix: [c.suffix], text: `${c.given} ${c.family}, ${c.suffix}` }],
    telecom: [{ system: 'phone', value: ORGS[c.org].phone, use: 'work' }, { system: 'email', value: `${c.given}.${c.family}@riverside.example.org`.toLowerCase(), use: 'work' }],
    address: [addr(LOCATIONS[c.location].line)],
    gender: c.gender,
    qualification: [{ code: concept(SYSTEM.nucc, c.taxonomy[0], c.taxonomy[1]) }],
  };
}

function practitionerRole(c: Clinician): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    id: c.roleId,
    active: true,
    practitioner: practitionerRef(c),
    organization: orgRef(c.org),
    code: [concept(SYSTEM.snomed, c.occupation[0], c.occupation[1])],
    specialty: [concept(SYSTEM.nucc, c.taxonomy[0], c.taxonomy[1])],
    location: [locationRef(c.location)],
    // US Core pd-1 (`telecom or endpoint`): a role needs contact details or an endpoint. One telecom
    // only: FHIRPath's `or` on a collection of several is an evaluation error in strict validators.
    telecom: [{ system: 'phone', value: ORGS[c.org].phone, use: 'work' }],
    endpoint: [ref('Endpoint', endpointId(c), `Direct address of ${c.given} ${c.family}, ${c.suffix}`)],
  };
}

function endpoint(c: Clinician): Endpoint {
  return {
    resourceType: 'Endpoint',
    id: endpointId(c),
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'direct-project', display: 'Direct Project' },
    name: `Direct address of ${c.given} ${c.family}, ${c.suffix}`,
    managingOrganization: orgRef(c.org),
    contact: [{ system: 'phone', value: ORGS[c.org].phone, use: 'work' }],
    payloadType: [concept('http://terminology.hl7.org/CodeSystem/endpoint-payload-type', 'any', 'Any')],
    payloadMimeType: ['application/fhir+json', 'application/pdf', 'text/plain'],
    address: `mailto:${directAddress(c)}`,
  };
}

function medication(d: Drug): Medication {
  return {
    resourceType: 'Medication',
    id: medicationId(d),
    status: 'active',
    code: { coding: [{ system: SYSTEM.rxnorm, code: d.rxnorm, display: d.display }], text: d.display },
  };
}

/** A valid NPI: 9 digits plus the Luhn check digit computed over the 80840 card-issuer prefix. */
export function npi(base9: string): string {
  const digits = `80840${base9}`;
  let sum = 0;
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = Number(digits[i]) * (double ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  return base9 + String((10 - (sum % 10)) % 10);
}
