import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { attestations, escapeHtml, reportHtml, resultsJson, screenshotSaver, serializableTest, summaryLine, testLine, writeReport } from './report.js';
import { exitStatus, runGroups, summarize, test as defineTest, type GroupDef, type TestResult } from './runner.js';
import type { Exchange } from './http.js';

const exchange: Exchange = {
  request: { method: 'GET', url: 'http://fhir/Patient/p<1>', headers: { authorization: 'Bearer abcdefghij…(900 chars)' } },
  response: { status: 403, headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType":"OperationOutcome"}' },
  ms: 5,
  at: '2026-01-01T00:00:00Z',
};

function result(partial: Partial<TestResult>): TestResult {
  return { id: 't', title: 'T', group: 'g', required: true, outcome: 'pass', messages: [], exchanges: [], steps: [], screenshots: [], evidence: {}, ms: 1, ...partial };
}

const info = { suite: 's', version: '1', fhirBase: 'http://fhir', startedAt: 'a', finishedAt: 'b', inputs: {} };

describe('report', () => {
  test('a line per test names the outcome, id, title and why', () => {
    expect(testLine(result({ outcome: 'fail', id: 'x-1', title: 'Reads', reason: 'HTTP 403\nmore' }))).toBe('FAIL  x-1  Reads — HTTP 403');
    expect(testLine(result({ outcome: 'skip', required: false, lackOfData: true, reason: 'no data' }))).toBe('SKIP  t  T (optional, lack of data) — no data');
  });

  test('summary counts required skips', () => {
    const s = summarize([result({}), result({ outcome: 'skip' }), result({ outcome: 'skip', required: false }), result({ outcome: 'fail' })]);
    expect(s).toMatchObject({ pass: 1, fail: 1, skip: 2, requiredSkips: 1, total: 4 });
    expect(summaryLine('G', s)).toBe('G: 1 passed, 1 failed, 2 skipped (1 required), 0 omitted, 4 tests');
  });

  test('failures keep their exchanges; passes only request lines', () => {
    const failed = serializableTest(result({ outcome: 'fail', exchanges: [exchange] }));
    expect(failed['exchanges']).toEqual([exchange]);
    const passed = serializableTest(result({ exchanges: [exchange] }));
    expect(passed['exchanges']).toBeUndefined();
    expect(passed['requests']).toEqual(['GET http://fhir/Patient/p<1> → 403']);
  });

  test('HTML escapes everything and shows the request and response behind a failure', () => {
    const html = reportHtml(info, [{ id: 'g', title: 'Group <1>', tests: [result({ outcome: 'fail', reason: '<script>x</script>', exchanges: [exchange] })] }], []);
    expect(html).not.toContain('<script>x</script>');
    expect(html).toContain(escapeHtml('<script>x</script>'));
    expect(html).toContain('Group &#60;1&#62;');
    expect(html).toContain('HTTP 403');
    expect(html).toContain('OperationOutcome');
  });

  test('runs groups, writes results.json, report.html and screenshots, and sets the exit status', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conformance-report-'));
    const save = screenshotSaver(dir);
    const groups: GroupDef[] = [
      {
        id: 'g1',
        title: 'One',
        tests: [
          defineTest('a', 'passes', async (t) => {
            t.evidence('refreshTokenLifetimeDays', 90);
            await t.screenshot('Allow access?', Buffer.from([0xff, 0xd8, 0xff]));
          }),
          defineTest('b', 'skips for lack of data', async (t) => t.skip('none', { lackOfData: true })),
          defineTest('c', 'optional skip', async (t) => t.skip('n/a'), { optional: true }),
        ],
      },
      { id: 'g2', title: 'Two', tests: () => [defineTest('d', 'throws', async () => { throw new Error('boom'); })] },
    ];
    const results = await runGroups(groups, { saveScreenshot: save });
    expect(results.map((g) => g.tests.map((t) => t.outcome))).toEqual([['pass', 'skip', 'skip'], ['fail']]);
    expect(results[1]!.tests[0]!.reason).toMatch(/^error: Error: boom/);
    expect(exitStatus(results)).toBe(1);
    expect(exitStatus([results[0]!])).toBe(1); // a required test skipped
    expect(exitStatus([{ ...results[0]!, tests: [results[0]!.tests[0]!, results[0]!.tests[2]!] }])).toBe(0);
    const files = await writeReport(dir, info, results, attestations(results));
    const json = JSON.parse(await readFile(files.json, 'utf8')) as ReturnType<typeof resultsJson>;
    expect(json['summary']).toMatchObject({ pass: 1, fail: 1, skip: 2, total: 4 });
    expect((json['groups'] as { id: string }[]).map((g) => g.id)).toEqual(['g1', 'g2']);
    expect(await readFile(files.html, 'utf8')).toContain('<h1>Conformance report</h1>');
    expect(await readdir(join(dir, 'screenshots'))).toEqual(['a-01.jpg']);
  });

  test('attestations carry the evidence gathered', () => {
    const groups = [{ id: 'i', title: 'I', tests: [result({ id: 'introspection-refresh-lifetime', evidence: { refreshTokenLifetimeDays: 90 } })] }];
    const item = attestations(groups).find((a) => a.item.startsWith('Refresh tokens valid'));
    expect(item?.evidence).toEqual(['refresh token lifetime by introspection: 90 days']);
    expect(item?.tests).toEqual(['introspection-refresh-lifetime']);
  });
});
