/** Ordinary generated patients: an age mix like a community practice, diverse households, parents for minors. */
import { emailFor, givenName, household, type Gender } from './demographics.js';
import { generatedTag } from './ids.js';
import { Random } from './random.js';
import type { GuardianSpec, PatientSpec } from './spec.js';
import { birthDateForAge } from './time.js';

const AGE_BANDS: readonly (readonly [readonly [number, number], number])[] = [
  [[0, 2], 5], [[3, 11], 10], [[12, 17], 8], [[18, 39], 27], [[40, 64], 32], [[65, 79], 13], [[80, 96], 5],
];

/** The n-th generated patient (1-based): pat-0001, pat-0002, … */
export function generatedPatientSpec(seed: number, n: number, now: number): PatientSpec {
  const rnd = Random.for(seed, `person-${n}`);
  const tag = generatedTag(n);
  const [lo, hi] = rnd.weighted(AGE_BANDS);
  const age = rnd.int(lo, hi);
  const gender: Gender = rnd.chance(0.51) ? 'female' : 'male';
  const home = household(rnd, Math.min(age, rnd.int(1, 25)), now);
  const given = [givenName(rnd, home.heritage, gender)];
  if (rnd.chance(0.35)) given.push(givenName(rnd, home.heritage, gender));
  if (given[1] === given[0]) given.pop();

  const guardians: GuardianSpec[] = [];
  if (age < 18) {
    const mother = rnd.chance(0.65);
    const parentGender: Gender = mother ? 'female' : 'male';
    const parentGiven = givenName(rnd, home.heritage, parentGender);
    guardians.push({
      id: `rp-${tag}-0001`,
      given: parentGiven,
      family: home.family,
      gender: parentGender,
      birthDate: birthDateForAge(now, age + rnd.int(22, 40), rnd.int(0, 364)),
      relationship: [mother ? { code: 'MTH', display: 'mother' } : { code: 'FTH', display: 'father' }],
      phone: home.phone,
      email: emailFor(parentGiven, home.family, n),
      sameAddress: true,
      subscriber: true,
    });
  } else if (age >= 80 && rnd.chance(0.4)) {
    const daughter = rnd.chance(0.6);
    const childGiven = givenName(rnd, home.heritage, daughter ? 'female' : 'male');
    guardians.push({
      id: `rp-${tag}-0001`,
      given: childGiven,
      family: home.family,
      gender: daughter ? 'female' : 'male',
      relationship: [daughter ? { code: 'DAU', display: 'natural daughter' } : { code: 'SON', display: 'natural son' }],
      phone: `${home.phone.slice(0, 8)}01${String(rnd.int(0, 99)).padStart(2, '0')}`,
      sameAddress: false,
    });
  }

  return {
    id: `pat-${tag}`,
    tag,
    streamKey: `patient-${n}`,
    mrn: String(2_000_000 + n),
    given,
    family: home.family,
    gender,
    birthDate: birthDateForAge(now, age, rnd.int(0, 364)),
    race: home.heritage.race,
    ethnicity: home.heritage.ethnicity,
    language: age >= 18 && rnd.chance(0.7) ? home.heritage.language : 'en',
    address: home.address,
    phone: home.phone,
    ...(age >= 18 ? { email: emailFor(given[0]!, home.family, n) } : {}),
    guardians,
  };
}
