/**
 * Names, addresses and OMB race/ethnicity for generated people. Phone numbers stay in the
 * 555-01xx range reserved for fiction; e-mail addresses are on example.com.
 */
import type { Address } from '@medplum/fhirtypes';
import type { Random } from './random.js';

export type Gender = 'male' | 'female';

/** First names per gender and a family-name pool; paired with a language so households are plausible. */
export interface Heritage {
  race: RaceKey;
  ethnicity: EthnicityKey;
  language: LanguageKey;
  female: readonly string[];
  male: readonly string[];
  family: readonly string[];
  weight: number;
}

const HERITAGES: readonly Heritage[] = [
  { race: 'white', ethnicity: 'not-hispanic', language: 'en', weight: 50,
    female: ['Emily', 'Hannah', 'Olivia', 'Sarah', 'Megan', 'Laura', 'Claire', 'Abigail', 'Margaret', 'Julia'],
    male: ['James', 'Michael', 'Ethan', 'Ryan', 'Matthew', 'Daniel', 'Connor', 'Henry', 'Thomas', 'Samuel'],
    family: ['Smith', 'Johnson', 'Miller', 'Murphy', 'Kowalski', 'Anderson', 'Sullivan', 'Olsen', 'Fischer', 'Walsh', 'Baker', 'Price'] },
  { race: 'black', ethnicity: 'not-hispanic', language: 'en', weight: 13,
    female: ['Aaliyah', 'Imani', 'Keisha', 'Nia', 'Danielle', 'Jasmine', 'Zora', 'Monique'],
    male: ['Darnell', 'Malik', 'Jamal', 'Andre', 'Terrence', 'Isaiah', 'Marcus', 'Xavier'],
    family: ['Washington', 'Jackson', 'Robinson', 'Okafor', 'Harris', 'Coleman', 'Brooks', 'Mensah'] },
  { race: 'white', ethnicity: 'hispanic', language: 'es', weight: 18,
    female: ['Lucia', 'Valentina', 'Camila', 'Isabella', 'Gabriela', 'Ana', 'Carmen', 'Daniela'],
    male: ['Santiago', 'Mateo', 'Diego', 'Alejandro', 'Luis', 'Carlos', 'Javier', 'Miguel'],
    family: ['Garcia', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Perez', 'Ramirez', 'Torres', 'Flores'] },
  { race: 'asian', ethnicity: 'not-hispanic', language: 'zh', weight: 4,
    female: ['Mei', 'Xiu', 'Lian', 'Ying', 'Hui'], male: ['Wei', 'Jun', 'Hao', 'Lei', 'Chen'],
    family: ['Chen', 'Wang', 'Zhang', 'Liu', 'Huang'] },
  { race: 'asian', ethnicity: 'not-hispanic', language: 'vi', weight: 2,
    female: ['Linh', 'Thao', 'Mai', 'Trang'], male: ['Minh', 'Tuan', 'Quang', 'Bao'],
    family: ['Nguyen', 'Tran', 'Pham', 'Le'] },
  { race: 'asian', ethnicity: 'not-hispanic', language: 'en', weight: 3,
    female: ['Priya', 'Ananya', 'Divya', 'Kavya'], male: ['Arjun', 'Rohan', 'Vikram', 'Sanjay'],
    family: ['Patel', 'Shah', 'Reddy', 'Iyer', 'Kumar'] },
  { race: 'native', ethnicity: 'not-hispanic', language: 'en', weight: 1,
    female: ['Winona', 'Aiyana', 'Talise'], male: ['Dakota', 'Ahiga', 'Kele'],
    family: ['Begay', 'Yazzie', 'Tsosie'] },
  { race: 'pacific', ethnicity: 'not-hispanic', language: 'en', weight: 1,
    female: ['Leilani', 'Malia', 'Kalani'], male: ['Keoni', 'Makoa', 'Kai'],
    family: ['Kahale', 'Akana', 'Kealoha'] },
  { race: 'unknown', ethnicity: 'unknown', language: 'en', weight: 2,
    female: ['Alex', 'Jordan', 'Taylor'], male: ['Morgan', 'Casey', 'Riley'],
    family: ['Morgan', 'Lee', 'Bennett'] },
  // OMB (1997) counts Middle Eastern and North African heritage as White.
  { race: 'white', ethnicity: 'not-hispanic', language: 'ar', weight: 2,
    female: ['Fatima', 'Layla', 'Noor', 'Yasmin'], male: ['Omar', 'Karim', 'Youssef', 'Tariq'],
    family: ['Haddad', 'Khalil', 'Nasser', 'Saleh'] },
];

export type RaceKey = 'white' | 'black' | 'asian' | 'native' | 'pacific' | 'unknown';
export type EthnicityKey = 'hispanic' | 'not-hispanic' | 'unknown';
export type LanguageKey = 'en' | 'es' | 'zh' | 'vi' | 'ar';

/** OMB category code and display (urn:oid:2.16.840.1.113883.6.238), or a v3-NullFlavor code. */
export const RACE: Record<RaceKey, { code: string; display: string; nullFlavor?: boolean }> = {
  white: { code: '2106-3', display: 'White' },
  black: { code: '2054-5', display: 'Black or African American' },
  asian: { code: '2028-9', display: 'Asian' },
  native: { code: '1002-5', display: 'American Indian or Alaska Native' },
  pacific: { code: '2076-8', display: 'Native Hawaiian or Other Pacific Islander' },
  unknown: { code: 'ASKU', display: 'Asked but no answer', nullFlavor: true },
};

export const ETHNICITY: Record<EthnicityKey, { code: string; display: string; nullFlavor?: boolean }> = {
  hispanic: { code: '2135-2', display: 'Hispanic or Latino' },
  'not-hispanic': { code: '2186-5', display: 'Not Hispanic or Latino' },
  unknown: { code: 'UNK', display: 'Unknown', nullFlavor: true },
};

export const LANGUAGE: Record<LanguageKey, string> = { en: 'English', es: 'Spanish', zh: 'Chinese', vi: 'Vietnamese', ar: 'Arabic' };

const TOWNS: readonly { city: string; state: string; zip: string; area: string }[] = [
  { city: 'Springfield', state: 'MA', zip: '01103', area: '413' },
  { city: 'Springfield', state: 'MA', zip: '01108', area: '413' },
  { city: 'Chicopee', state: 'MA', zip: '01013', area: '413' },
  { city: 'Holyoke', state: 'MA', zip: '01040', area: '413' },
  { city: 'Westfield', state: 'MA', zip: '01085', area: '413' },
  { city: 'West Springfield', state: 'MA', zip: '01089', area: '413' },
  { city: 'Longmeadow', state: 'MA', zip: '01106', area: '413' },
  { city: 'Agawam', state: 'MA', zip: '01001', area: '413' },
  { city: 'Enfield', state: 'CT', zip: '06082', area: '860' },
  { city: 'Northampton', state: 'MA', zip: '01060', area: '413' },
];
const STREETS = ['Maple Street', 'Oak Avenue', 'Elm Street', 'Chestnut Street', 'Sumner Avenue', 'State Street', 'Dickinson Street', 'Pine Ridge Road', 'Orchard Lane', 'Wilbraham Road', 'Carew Street', 'Boston Road'];

export interface Household {
  heritage: Heritage;
  family: string;
  address: Address;
  phone: string;
}

export function pickHeritage(rnd: Random): Heritage {
  return rnd.weighted(HERITAGES.map((h) => [h, h.weight] as const));
}

export function household(rnd: Random, movedInYearsAgo: number, now: number): Household {
  const heritage = pickHeritage(rnd);
  const town = rnd.pick(TOWNS);
  const since = new Date(now - movedInYearsAgo * 365.25 * 86_400_000).toISOString().slice(0, 10);
  return {
    heritage,
    family: rnd.pick(heritage.family),
    address: {
      use: 'home',
      type: 'physical',
      line: [`${rnd.int(2, 1999)} ${rnd.pick(STREETS)}`, ...(rnd.chance(0.15) ? [`Apt ${rnd.int(1, 40)}`] : [])],
      city: town.city,
      state: town.state,
      postalCode: town.zip,
      country: 'US',
      period: { start: since },
    },
    phone: `${town.area}-555-01${String(rnd.int(0, 99)).padStart(2, '0')}`,
  };
}

export function givenName(rnd: Random, heritage: Heritage, gender: Gender): string {
  return rnd.pick(gender === 'female' ? heritage.female : heritage.male);
}

export function emailFor(given: string, family: string, n: number): string {
  return `${given}.${family}${n}@example.com`.toLowerCase().replace(/[^a-z0-9.@]/g, '');
}
