/**
 * Output: a line per test as it runs, a summary per group, `results.json` and a self-contained
 * `report.html` showing, for each failure, the requests and responses behind it, the browser steps
 * and screenshots, and the attestation items with the evidence the suite gathered.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exchange } from './http.js';
import { summarize, type GroupResult, type Summary, type TestResult } from './runner.js';

export interface RunInfo {
  suite: string;
  version: string;
  fhirBase: string;
  startedAt: string;
  finishedAt: string;
  inputs: Record<string, unknown>;
}

export interface Attestation {
  item: string;
  evidence: string[];
  tests: string[];
}

const SYMBOL: Record<TestResult['outcome'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', omit: 'OMIT' };

export function testLine(r: TestResult): string {
  const flags = [r.required ? '' : 'optional', r.lackOfData ? 'lack of data' : ''].filter(Boolean).join(', ');
  const why = r.reason ? ` — ${r.reason.split('\n')[0]}` : '';
  return `${SYMBOL[r.outcome]}  ${r.id}  ${r.title}${flags ? ` (${flags})` : ''}${why}`;
}

export function summaryLine(label: string, s: Summary): string {
  return `${label}: ${s.pass} passed, ${s.fail} failed, ${s.skip} skipped${s.requiredSkips ? ` (${s.requiredSkips} required)` : ''}, ${s.omit} omitted, ${s.total} tests`;
}

/** What a test keeps in results.json: every exchange of a failure; only the request lines otherwise. */
export function serializableTest(r: TestResult): Record<string, unknown> {
  const keepExchanges = r.outcome === 'fail';
  return {
    id: r.id,
    title: r.title,
    ...(r.ref ? { ref: r.ref } : {}),
    required: r.required,
    outcome: r.outcome,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.lackOfData ? { lackOfData: true } : {}),
    ms: r.ms,
    messages: r.messages,
    steps: r.steps,
    screenshots: r.screenshots,
    evidence: r.evidence,
    requestCount: r.exchanges.length,
    ...(keepExchanges ? { exchanges: r.exchanges.slice(-40) } : { requests: r.exchanges.slice(0, 10).map((e) => `${e.request.method} ${e.request.url} → ${e.response?.status ?? e.error}`) }),
  };
}

export function resultsJson(info: RunInfo, groups: GroupResult[], attestations: Attestation[]): Record<string, unknown> {
  const all = groups.flatMap((g) => g.tests);
  return {
    ...info,
    summary: summarize(all),
    groups: groups.map((g) => ({ id: g.id, title: g.title, ...(g.description ? { description: g.description } : {}), summary: summarize(g.tests), tests: g.tests.map(serializableTest) })),
    attestations,
  };
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function exchangeHtml(e: Exchange): string {
  const headers = (h: Record<string, string>) =>
    Object.entries(h)
      .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`)
      .join('\n');
  const req = `${escapeHtml(e.request.method)} ${escapeHtml(e.request.url)}\n${headers(e.request.headers)}${e.request.body ? `\n\n${escapeHtml(e.request.body)}` : ''}`;
  const res = e.response ? `HTTP ${e.response.status}\n${headers(e.response.headers)}\n\n${escapeHtml(e.response.body)}` : `no response: ${escapeHtml(e.error ?? 'unknown error')}`;
  return `<details class="exchange"><summary><code>${escapeHtml(e.request.method)} ${escapeHtml(e.request.url.length > 140 ? `${e.request.url.slice(0, 137)}…` : e.request.url)}</code> → <strong>${e.response?.status ?? 'error'}</strong> <span class="ms">${e.ms} ms</span></summary><div class="pair"><pre>${req}</pre><pre>${res}</pre></div></details>`;
}

function testHtml(r: TestResult): string {
  const exchanges = r.outcome === 'fail' ? r.exchanges.slice(-40) : [];
  const evidence = Object.keys(r.evidence).length ? `<pre class="evidence">${escapeHtml(JSON.stringify(r.evidence, null, 2))}</pre>` : '';
  const messages = r.messages.map((m) => `<li class="${m.level}">${escapeHtml(m.level)}: ${escapeHtml(m.text)}</li>`).join('');
  const steps = r.steps.length ? `<details><summary>Browser steps (${r.steps.length})</summary><ol>${r.steps.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ol></details>` : '';
  const shots = r.screenshots.length
    ? `<details><summary>Screenshots (${r.screenshots.length})</summary><div class="shots">${r.screenshots
        .map((s) => `<figure><a href="${escapeHtml(s.file)}"><img src="${escapeHtml(s.file)}" alt="${escapeHtml(s.label)}" loading="lazy"></a><figcaption>${escapeHtml(s.label)}</figcaption></figure>`)
        .join('')}</div></details>`
    : '';
  const requests = exchanges.length
    ? `<details open><summary>Requests and responses behind the failure (${exchanges.length}${r.exchanges.length > exchanges.length ? ` of ${r.exchanges.length}` : ''})</summary>${exchanges.map(exchangeHtml).join('')}</details>`
    : r.exchanges.length
      ? `<p class="ms">${r.exchanges.length} request${r.exchanges.length === 1 ? '' : 's'}</p>`
      : '';
  return `<tr class="${r.outcome}" id="${escapeHtml(r.id)}"><td class="outcome">${r.outcome}</td><td><strong>${escapeHtml(r.title)}</strong><br><code>${escapeHtml(r.id)}</code>${r.ref ? ` <span class="ref">Inferno: ${escapeHtml(r.ref)}</span>` : ''}${r.required ? '' : ' <span class="ref">optional</span>'}${r.reason ? `<p class="reason">${escapeHtml(r.reason)}</p>` : ''}${messages ? `<ul class="messages">${messages}</ul>` : ''}${evidence}${steps}${shots}${requests}</td><td class="ms">${r.ms} ms</td></tr>`;
}

export function reportHtml(info: RunInfo, groups: GroupResult[], attestations: Attestation[]): string {
  const all = summarize(groups.flatMap((g) => g.tests));
  const rows = groups
    .map((g) => {
      const s = summarize(g.tests);
      const status = s.fail ? 'fail' : s.requiredSkips ? 'skip' : 'pass';
      return `<tr class="${status}"><td><a href="#group-${escapeHtml(g.id)}">${escapeHtml(g.title)}</a></td><td>${s.pass}</td><td>${s.fail}</td><td>${s.skip}</td><td>${s.omit}</td><td>${s.total}</td></tr>`;
    })
    .join('');
  const sections = groups
    .map(
      (g) =>
        `<section id="group-${escapeHtml(g.id)}"><h2>${escapeHtml(g.title)}</h2>${g.description ? `<p>${escapeHtml(g.description)}</p>` : ''}<p>${escapeHtml(summaryLine('Result', summarize(g.tests)))}</p><table class="tests"><tbody>${g.tests.map(testHtml).join('')}</tbody></table></section>`,
    )
    .join('');
  const attest = attestations
    .map((a) => `<tr><td>${escapeHtml(a.item)}</td><td>${a.evidence.length ? `<ul>${a.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>` : '<em>no evidence gathered</em>'}</td><td>${a.tests.map((id) => `<a href="#${escapeHtml(id)}">${escapeHtml(id)}</a>`).join(' ')}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Conformance report — ${escapeHtml(info.fhirBase)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;line-height:1.4;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;vertical-align:top;text-align:left}
tr.pass td.outcome,tr.pass td:first-child a{color:#0a6b2e}tr.fail td.outcome{color:#a40000;font-weight:700}tr.skip td.outcome{color:#8a5a00}tr.omit td.outcome{color:#666}
.summary tr.fail{background:#fdeaea}.summary tr.skip{background:#fff6e0}
.reason{margin:.3rem 0;white-space:pre-wrap}.ref{color:#555;font-size:.85rem}.ms{color:#666;font-size:.85rem;white-space:nowrap}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:28rem;font-size:.8rem;white-space:pre-wrap;word-break:break-all}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}.messages li.warning{color:#8a5a00}
.shots{display:flex;flex-wrap:wrap;gap:.5rem}.shots img{width:220px;border:1px solid #ccc}figure{margin:0}figcaption{font-size:.8rem}
</style></head><body>
<h1>Conformance report</h1>
<p>${escapeHtml(info.suite)} ${escapeHtml(info.version)} against <code>${escapeHtml(info.fhirBase)}</code>, ${escapeHtml(info.startedAt)} – ${escapeHtml(info.finishedAt)}.</p>
<p><strong>${escapeHtml(summaryLine('Overall', all))}</strong></p>
<table class="summary"><thead><tr><th>Group</th><th>Pass</th><th>Fail</th><th>Skip</th><th>Omit</th><th>Total</th></tr></thead><tbody>${rows}</tbody></table>
<section><h2>Attestation items and the evidence gathered</h2><table><thead><tr><th>Item</th><th>Evidence</th><th>Tests</th></tr></thead><tbody>${attest}</tbody></table></section>
${sections}
</body></html>`;
}

export async function writeReport(dir: string, info: RunInfo, groups: GroupResult[], attestations: Attestation[]): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'results.json');
  const html = join(dir, 'report.html');
  await writeFile(json, `${JSON.stringify(resultsJson(info, groups, attestations), null, 2)}\n`);
  await writeFile(html, reportHtml(info, groups, attestations));
  return { json, html };
}

/** Screenshot files under `<dir>/screenshots/`, named after the test. */
export function screenshotSaver(dir: string): (testId: string, label: string, png: Buffer) => Promise<string> {
  const counts = new Map<string, number>();
  return async (testId, _label, image) => {
    const n = (counts.get(testId) ?? 0) + 1;
    counts.set(testId, n);
    const name = `${testId.replace(/[^A-Za-z0-9._-]/g, '_')}-${String(n).padStart(2, '0')}.jpg`;
    await mkdir(join(dir, 'screenshots'), { recursive: true });
    await writeFile(join(dir, 'screenshots', name), image);
    return `screenshots/${name}`;
  };
}

/** The g10 attestation items (§4.7) with what the run gathered for each. */
export function attestations(groups: GroupResult[]): Attestation[] {
  const byId = new Map(groups.flatMap((g) => g.tests).map((t) => [t.id, t]));
  const ev = (id: string, key: string): unknown => byId.get(id)?.evidence[key];
  const outcome = (id: string) => byId.get(id)?.outcome;
  const items: Attestation[] = [];
  const push = (item: string, tests: string[], evidence: (string | undefined | false)[]) =>
    items.push({ item, tests: tests.filter((t) => byId.has(t)), evidence: evidence.filter((e): e is string => typeof e === 'string' && e.length > 0) });
  const registered = groups.flatMap((g) => g.tests).flatMap((t) => t.messages.filter((m) => m.text.startsWith('registered ')).map((m) => m.text));
  push('Application registration for single patients (dynamic registration of public, confidential symmetric and asymmetric clients)', [], registered);
  push('Application registration for multiple patients (backend services)', ['backend-success'], [outcome('backend-success') === 'pass' ? 'client_credentials token obtained with the given backend client' : undefined]);
  const consentShots = groups.flatMap((g) => g.tests).filter((t) => t.screenshots.some((s) => s.label === 'Allow access?'));
  push('Graphical user interface to authorize FHIR resources (consent screen)', consentShots.slice(0, 3).map((t) => t.id), consentShots.length ? [`consent screen captured in ${consentShots.length} launches`] : []);
  const limited = byId.get('limited-launch');
  push('The patient is informed when offline_access is granted', ['standalone-public-redirect'], [
    groups.flatMap((g) => g.tests).some((t) => t.steps.some((s) => /offline/i.test(s))) ? 'the consent screen lists offline access as its own choice' : undefined,
    limited?.evidence['unticked'] !== undefined ? `limited access: ${String(limited.evidence['unticked'])} scopes unticked on the consent screen` : undefined,
  ]);
  const days = ev('introspection-refresh-lifetime', 'refreshTokenLifetimeDays');
  push('Refresh tokens valid for no shorter than three months', ['introspection-refresh-lifetime'], [days !== undefined ? `refresh token lifetime by introspection: ${String(days)} days` : undefined]);
  push('A refresh yields a refresh token valid for a new period without re-authentication', ['standalone-public-refresh-without-scope', 'introspection-refresh-lifetime'], [
    outcome('refresh-standalone-public-without-scope') === 'pass' ? 'refresh without re-authentication succeeded (rotation)' : undefined,
  ]);
  push('Patient-directed revocation of an app\'s tokens', ['revocation-patient-directed', 'revocation-revoked-access-token', 'revocation-revoked-refresh-token'], [
    outcome('revocation-patient-directed') === 'pass' ? `revoked on the management page by ${String(ev('revocation-patient-directed', 'revokedBy'))}` : undefined,
    outcome('revocation-revoked-access-token') === 'pass' ? 'the revoked access token is refused by the FHIR API' : undefined,
    outcome('revocation-revoked-refresh-token') === 'pass' ? 'the revoked refresh token is refused by the token endpoint' : undefined,
  ]);
  const tlsTests = groups.flatMap((g) => g.tests).filter((t) => t.id.endsWith('-tls'));
  push('TLS version 1.2 or above enforced', tlsTests.map((t) => t.id), tlsTests.map((t) => `${t.id}: ${t.outcome}${t.reason ? ` (${t.reason})` : ''}`));
  push('Granting a sub-resource scope for Clinical Test observations', ['granular-selection-launch'], [
    (ev('granular-selection-launch', 'offered') as string[] | undefined)?.some((s) => s.includes('clinical-test')) ? 'the consent screen offers a clinical-test category scope' : undefined,
  ]);
  return items;
}
