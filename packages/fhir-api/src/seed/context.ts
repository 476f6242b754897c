/**
 * The state of one patient record while it is generated: its random stream, id counter, the
 * resources produced so far, and the health facts later steps depend on (conditions, drugs,
 * allergies, body size, insurance, care providers).
 */
import type { Condition, Coverage, MedicationRequest, RelatedPerson, Resource } from '@medplum/fhirtypes';
import type { ChronicCondition, ConditionKey } from './clinical/condition-catalog.js';
import type { Drug } from './clinical/drugs.js';
import { IdMint } from './ids.js';
import type { Random } from './random.js';
import type { Clinician, LocationKey, OrgKey } from './shared.js';
import type { PatientSpec } from './spec.js';
import { ref, type Ref } from './terminology.js';
import { YEAR_MS, parseDate } from './time.js';

export interface ActiveCondition {
  def: ChronicCondition;
  condition: Condition;
  onset: number;
}

export interface ActiveDrug {
  drug: Drug;
  request: MedicationRequest;
  start: number;
  /** When a renewal replaced this prescription (fills after that use the renewal). */
  until?: number;
  fills: number;
}

export interface Insurance {
  coverage: Coverage;
  payer: OrgKey;
  kind: 'commercial' | 'medicare' | 'medicaid';
}

export interface Body {
  /** Standard scores that keep one person's growth curve and build consistent across visits. */
  heightZ: number;
  bmiZ: number;
}

export class RecordContext {
  readonly resources: Resource[] = [];
  readonly ids: IdMint;
  readonly patientRef: Ref;
  readonly birth: number;
  readonly conditions = new Map<ConditionKey, ActiveCondition>();
  readonly drugs: ActiveDrug[] = [];
  readonly allergyClasses = new Set<'penicillin' | 'sulfonamide'>();
  readonly guardians: RelatedPerson[] = [];
  smoking: 'never' | 'former' | 'current' = 'never';
  foodInsecure = false;
  body: Body = { heightZ: 0, bmiZ: 0 };
  insurance?: Insurance;

  constructor(
    readonly spec: PatientSpec,
    readonly rnd: Random,
    readonly now: number,
    readonly pcp: Clinician,
    readonly clinic: { location: LocationKey; org: OrgKey },
  ) {
    this.ids = new IdMint(spec.tag);
    this.birth = parseDate(spec.birthDate);
    this.patientRef = ref('Patient', spec.id, `${spec.given.join(' ')} ${spec.family}`);
  }

  add<T extends Resource>(resource: T): T {
    this.resources.push(resource);
    return resource;
  }

  id(prefix: string): string {
    return this.ids.next(prefix);
  }

  /** Age in (fractional) years at a time. */
  ageAt(ms: number): number {
    return (ms - this.birth) / YEAR_MS;
  }

  get age(): number {
    return this.ageAt(this.now);
  }

  has(key: ConditionKey): boolean {
    return this.conditions.has(key);
  }
}
