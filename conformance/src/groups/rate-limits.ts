/**
 * Rate limits as an app sees them (our addition): every PHI response says where the app stands
 * (RateLimit-* headers), and the policy in force is published where the CapabilityStatement says,
 * with the numbers the headers carry. Nothing here drives a key to its limit: the suite runs
 * against live deployments and must not lock its own tokens out.
 */
import { expectStatus } from '../checks.js';
import { asResource } from '../fhir.js';
import { jsonObject, type HttpResponse } from '../http.js';
import { ensure, test, type GroupDef, type TestContext } from '../runner.js';
import type { Suite } from '../suite.js';
import type { UsCoreState } from './uscore.js';

const HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'] as const;

export function rateLimitGroup(suite: Suite, state: UsCoreState): GroupDef {
  let read: HttpResponse | undefined;
  const phiRead = async (t: TestContext): Promise<HttpResponse> => {
    const patientId = state.patients[0];
    if (!patientId) t.skip('no patient token', { lackOfData: true });
    read ??= await suite.fhir(t, state.tokens.get(patientId)).read('Patient', patientId);
    return read;
  };
  return {
    id: 'rate-limits',
    title: 'Rate limits: stated on every response, published once',
    tests: [
      test('rate-limit-headers', 'A PHI response carries RateLimit-Limit, -Remaining, -Reset and -Policy, consistent with each other', async (t: TestContext) => {
        const res = await phiRead(t);
        expectStatus(res, 200);
        const missing = HEADERS.filter((h) => res.headers.get(h) === null);
        ensure(missing.length === 0, `missing ${missing.join(', ')}`);
        const [limit, remaining, reset] = HEADERS.slice(0, 3).map((h) => Number(res.headers.get(h)));
        const policy = res.headers.get('ratelimit-policy')!;
        t.evidence('headers', Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])));
        ensure(Number.isInteger(limit) && limit! > 0, `RateLimit-Limit is ${res.headers.get('ratelimit-limit')}`);
        ensure(Number.isInteger(remaining) && remaining! >= 0 && remaining! < limit!, `RateLimit-Remaining ${remaining} is not below RateLimit-Limit ${limit} after a request`);
        ensure(Number.isInteger(reset) && reset! >= 0, `RateLimit-Reset is ${res.headers.get('ratelimit-reset')}`);
        ensure(new RegExp(`^${limit};w=\\d+`).test(policy), `RateLimit-Policy "${policy}" does not state the limit ${limit} and a window`);
      }),
      test('rate-limit-published', "The policy in force is published where the CapabilityStatement says, and matches the headers", async (t: TestContext) => {
        const res = await phiRead(t);
        const metadata = asResource(await t.http.get(`${suite.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json' } }));
        const documentation = String(((metadata?.['rest'] as { documentation?: string }[] | undefined) ?? [])[0]?.documentation ?? '');
        const url = /https?:\/\/\S+\/rate-limits\b/.exec(documentation)?.[0];
        ensure(url !== undefined, 'the CapabilityStatement\'s rest.documentation names no rate-limit policy URL');
        const published = await t.http.get(url!, { headers: { accept: 'application/json' } });
        expectStatus(published, 200);
        const limits = (jsonObject(published)?.['limits'] as { limiter?: string; limit?: number; windowSeconds?: number; per?: string }[] | undefined) ?? [];
        t.evidence('policy', limits);
        const fhir = limits.find((l) => l.limiter === 'fhir');
        ensure(fhir !== undefined, `${url} lists no limit for FHIR requests with a token`);
        const header = res.headers.get('ratelimit-policy') ?? '';
        ensure(header === `${fhir!.limit};w=${fhir!.windowSeconds}`, `the response says RateLimit-Policy "${header}", the published policy ${fhir!.limit} per ${fhir!.windowSeconds} s`);
        ensure(/patient/i.test(fhir!.per ?? ''), `the FHIR limit is counted per "${fhir!.per}", not per app and patient`);
      }, { optional: true }),
    ],
  };
}
