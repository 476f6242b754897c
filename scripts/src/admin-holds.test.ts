/**
 * The admin CLI's holds and rules commands (REL-4, REL-5, REL-6) on a real database: what they
 * print, what they refuse, and that each change reaches the access log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { authServerMigrations } from '@patient-access/auth-server';
import { cancelPatientDelay, consentMigrations, createAccount, createPatientDelay, createTestDatabase, HoldValidationError, verifyAccessLog, type TestDatabase } from '@patient-access/consent';
import { fhirApiMigrations, writeResources } from '@patient-access/fhir-api';
import { AdminError } from './admin/accounts.js';
import { holdsCommand, rulesCommand } from './admin/holds.js';

const T0 = new Date('2026-11-20T10:00:00Z');
const later = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const HIV = { system: 'http://loinc.org', code: '75622-1' };
const lab = (id: string, code = { system: 'http://loinc.org', code: '718-7' }) =>
  ({ resourceType: 'Observation', id, status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }], code: { coding: [code] }, subject: { reference: 'Patient/pat-1' } }) as Resource;

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  dir = await mkdtemp(join(tmpdir(), 'pa-admin-holds-'));
  await tdb.db.transaction((trx) =>
    writeResources(trx, [{ resourceType: 'Patient', id: 'pat-1', address: [{ state: 'CA' }] } as Resource, lab('obs-1'), lab('obs-2')], { now: T0 }),
  );
});
afterAll(async () => {
  await tdb?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const holds = (command: string, arg: string | undefined, o: Record<string, unknown>, at = later(1)) => holdsCommand(tdb.db, command, arg, o, at);
const rules = (command: string, arg: string | undefined, o: Record<string, unknown>, at = later(1)) => rulesCommand(tdb.db, command, arg, o, at);

describe('holds', () => {
  test('place, list and lift a data-quality hold; each refusal names what is wrong', async () => {
    await expect(holds('place', undefined, { patient: 'pat-1', resource: ['obs-1'], problem: 'corrupt', reason: 'x', by: 'ops' })).rejects.toThrow(AdminError);
    await expect(holds('place', undefined, { patient: 'pat-1', resource: ['Observation/obs-1'], problem: 'corrupt', reason: 'x' })).rejects.toThrow('--by is required');
    await expect(holds('place', undefined, { patient: 'pat-1', resource: ['Observation/obs-1'], problem: 'corrupt', reason: 'x', by: 'ops', days: '45' })).rejects.toThrow(HoldValidationError);
    const [placed] = await holds('place', undefined, { patient: 'pat-1', resource: ['Observation/obs-1'], problem: 'corrupt', reason: 'truncated by the interface', by: 'ops.jane', days: '2' });
    const id = /hold ([0-9a-f-]{36})/.exec(placed!)![1]!;
    expect(placed).toContain('on 1 record(s) of pat-1');

    const listed = await holds('list', undefined, { patient: 'pat-1' }, later(2));
    expect(listed).toEqual([expect.stringMatching(new RegExp(`^data-quality +${id}  Observation/obs-1  until `))]);
    await expect(holds('lift', id, { patient: 'pat-1', kind: 'data-quality', reason: 'whatever', by: 'ops.jane' })).rejects.toThrow('fixed or not-an-error');
    await expect(holds('lift', id, { patient: 'pat-1', reason: 'fixed', by: 'ops.jane' })).rejects.toThrow('--kind must be');
    expect(await holds('lift', id, { patient: 'pat-1', kind: 'data-quality', reason: 'fixed', by: 'ops.jane' }, later(3))).toEqual([`Lifted data-quality hold ${id}; what it held is visible now.`]);
    await expect(holds('lift', id, { patient: 'pat-1', kind: 'data-quality', reason: 'fixed', by: 'ops.jane' }, later(4))).rejects.toThrow('already lifted');
    expect(await holds('list', undefined, { patient: 'pat-1' }, later(4))).toEqual(['No hold in force on pat-1.']);
  });

  test("list shows the patient's delays; release ends a delay until the clinician releases the result", async () => {
    const account = await createAccount(tdb.db, { username: 'pat1', displayName: 'pat1', password: 'long enough secret', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', fhirUser: 'Patient/pat-1', patientId: 'pat-1' });
    const delay = await createPatientDelay(tdb.db, {
      patientId: 'pat-1',
      requestedBy: { kind: 'patient', accountId: account.id },
      scope: { kind: 'category', category: { code: 'laboratory' } },
      condition: { kind: 'until_clinician_release' },
      maxHours: 72,
      at: later(5),
    });
    await tdb.db.transaction((trx) => writeResources(trx, [lab('obs-3')], { now: later(6) }));
    const listed = await holds('list', undefined, { patient: 'pat-1' }, later(7));
    expect(listed).toEqual([expect.stringContaining(`patient-delay  ${delay.id}  Observation/obs-3`), expect.stringContaining(`delay          ${delay.id}  category laboratory  until_clinician_release, at most 72 h (set by the patient)`)]);
    await expect(holds('release', undefined, { patient: 'pat-1', resource: ['Observation/obs-3'], event: 'clinician-released', by: 'ops.jane' })).rejects.toThrow('Practitioner/');
    expect(await holds('release', undefined, { patient: 'pat-1', resource: ['Observation/obs-3'], event: 'clinician-released', by: 'Practitioner/p1' }, later(8))).toEqual([
      'clinician-released: 1 hold(s) on Observation/obs-3 released.',
    ]);
    await cancelPatientDelay(tdb.db, { patientId: 'pat-1', preferenceId: delay.id, cancelledBy: { kind: 'patient', accountId: account.id }, at: later(9) });
  });
});

describe('rules', () => {
  test('create from a file (disabled), enable, hold the named codes for patients of the state, disable; every change logged', async () => {
    const file = join(dir, 'rule.json');
    const rule = { jurisdiction: 'US-CA', description: 'HIV results', codes: [HIV], condition: 'max_duration', maxDurationHours: 48, citation: 'Cal. Health & Safety Code § 123148', effectiveFrom: T0.toISOString(), expiresAt: '2027-11-20T00:00:00Z' };
    await writeFile(file, JSON.stringify({ ...rule, citation: '' }));
    await expect(rules('create', undefined, { file, by: 'counsel' })).rejects.toThrow('REL-6');
    await writeFile(file, JSON.stringify({ ...rule, codes: [{ system: 'http://loinc.org', code: '*' }] }));
    await expect(rules('create', undefined, { file, by: 'counsel' })).rejects.toThrow('never a wildcard');
    await writeFile(file, '{ not json');
    await expect(rules('create', undefined, { file, by: 'counsel' })).rejects.toThrow(AdminError);
    await writeFile(file, JSON.stringify(rule));
    const created = await rules('create', undefined, { file, by: 'counsel' }, later(10));
    const id = /^Created ([0-9a-f-]{36})  disabled  US-CA/.exec(created[0]!)![1]!;
    expect(await rules('list', undefined, {})).toEqual([expect.stringContaining(`${id}  disabled  US-CA  1 code(s)  max_duration, at most 48 h`)]);

    await tdb.db.transaction((trx) => writeResources(trx, [lab('hiv-1', HIV)], { now: later(11) }));
    expect(await holds('list', undefined, { patient: 'pat-1' }, later(12))).not.toEqual(expect.arrayContaining([expect.stringContaining('hiv-1')]));

    expect((await rules('enable', id, { by: 'counsel' }, later(13)))[0]).toMatch(/^Enabled .* enabled +US-CA/);
    await expect(rules('enable', id, { by: 'counsel' }, later(13))).rejects.toThrow('already enabled');
    await tdb.db.transaction((trx) => writeResources(trx, [lab('hiv-2', HIV)], { now: later(14) }));
    expect(await holds('list', undefined, { patient: 'pat-1' }, later(15))).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^legal +${id}  Observation/hiv-2  until .*\\(max_duration\\)`))]));

    await rules('disable', id, { by: 'counsel' }, later(16));
    expect(await holds('list', undefined, { patient: 'pat-1' }, later(17))).not.toEqual(expect.arrayContaining([expect.stringContaining('hiv-2')]));
    const logged = (await tdb.db('access_log').where({ patient_id: '' }).whereLike('action', 'rule.%').orderBy('seq')) as { action: string; actor_id: string; detail: Record<string, unknown> }[];
    expect(logged.map((r) => [r.action, r.actor_id, r.detail['ruleId']])).toEqual([
      ['rule.create', 'counsel', id],
      ['rule.enable', 'counsel', id],
      ['rule.disable', 'counsel', id],
    ]);
    expect(logged[2]!.detail['released']).toBe(1);
    expect(await verifyAccessLog(tdb.db)).toEqual([]);
  });
});
