/**
 * `npm run admin -- <command>`: accounts for imported records, client registration, signing
 * key rotation, and holds on results and state-law rules. Run `npm run admin -- help` for the list.
 */
import { parseArgs } from 'node:util';
import { rotateSigningKey } from '@patient-access/auth-server';
import { RuleError, type DelegationBasis } from '@patient-access/consent';
import { AdminError, createAccountFor, disableAccount, listAccounts, type AccountSubject } from './admin/accounts.js';
import { registerClient } from './admin/clients.js';
import { holdsCommand, rulesCommand } from './admin/holds.js';
import { cliLogger, configOrExit, openMigrated } from './runtime.js';

const HELP = `Usage: npm run admin -- <command> [options]

  accounts create --patient <id> [--username u] [--email e] [--demo-credentials] [--accounts-file f]
  accounts create --related-person <id> --acts-for <patient id> --basis parent|guardian|poa|caregiver [...]
  accounts create --practitioner <id> [...]
      Without --demo-credentials, prints a one-time enrollment link (password and authenticator set on first use).
  accounts list
  accounts disable <username>
  clients register --name <n> --redirect-uri <uri> [--redirect-uri …] [--launch-uri <uri>] [--secret | --jwks-file <public jwks.json>]
  clients register --backend --name <n> --jwks-file <public jwks.json>
  keys rotate [--publish-hours 24]
      Publishes a new signing key now; it starts signing after --publish-hours; the old key stays published until its tokens expire.

  Holds on results (each change is validated against its rule and written to the record's access log):
  holds list --patient <id>
  holds place --patient <id> --resource Type/id [--resource …] --problem misidentified|mismatched_patient|corrupt|erroneous
              --reason <text> --by <staff id> [--days 7]          a data-quality hold (REL-4; at most 30 days)
  holds lift <hold id> --patient <id> --kind data-quality --reason fixed|not-an-error --by <staff id>
  holds lift <hold id> --patient <id> --kind harm --reason <text> --by Practitioner/<id>
  holds release --patient <id> --resource Type/id --event clinician-released|discussed --by Practitioner/<id>
      Ends the patient's "until my clinician releases it" delays (REL-5) and, once discussed, state-law holds (REL-6).
  rules list
  rules create --file <rule.json> --by <staff id>     a state-law rule (REL-6), created disabled:
      { jurisdiction: "US-CA", description, codes: [{system, code}], condition: until_discussed|max_duration,
        maxDurationHours, citation, effectiveFrom, expiresAt }
  rules enable <rule id> --by <staff id>
  rules disable <rule id> --by <staff id>             releases at once everything the rule holds`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    patient: { type: 'string' },
    'related-person': { type: 'string' },
    'acts-for': { type: 'string' },
    basis: { type: 'string' },
    practitioner: { type: 'string' },
    username: { type: 'string' },
    email: { type: 'string' },
    'demo-credentials': { type: 'boolean' },
    'accounts-file': { type: 'string' },
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'launch-uri': { type: 'string' },
    secret: { type: 'boolean' },
    'jwks-file': { type: 'string' },
    backend: { type: 'boolean' },
    'publish-hours': { type: 'string' },
    resource: { type: 'string', multiple: true },
    problem: { type: 'string' },
    reason: { type: 'string' },
    by: { type: 'string' },
    kind: { type: 'string' },
    days: { type: 'string' },
    event: { type: 'string' },
    file: { type: 'string' },
  },
});

const [group, command, arg] = positionals;
if (!group || group === 'help') {
  console.log(HELP);
  process.exit(group ? 0 : 2);
}

const config = configOrExit();
const db = await openMigrated(config, cliLogger(config, 'admin'));
try {
  if (group === 'accounts' && command === 'create') {
    const subject = accountSubject();
    const created = await createAccountFor(db, config, {
      subject,
      ...(values.username ? { username: values.username } : {}),
      ...(values.email ? { email: values.email } : {}),
      ...(values['demo-credentials'] ? { demoCredentials: true } : {}),
      ...(values['accounts-file'] ? { accountsFile: values['accounts-file'] } : {}),
    });
    console.log(`Created ${created.username} for ${created.fhirUser}.`);
    if (created.enrollmentUrl) console.log(`One-time enrollment link (give it to the person; it expires):\n  ${created.enrollmentUrl}`);
    else console.log(`  password ${created.password}\n  TOTP secret ${created.totpSecret}`);
  } else if (group === 'accounts' && command === 'list') {
    for (const a of await listAccounts(db)) console.log(`${a.username.padEnd(24)} ${a.status.padEnd(10)} ${a.fhirUser}`);
  } else if (group === 'accounts' && command === 'disable') {
    if (!arg) throw new AdminError('give the username to disable');
    await disableAccount(db, arg);
    console.log(`Disabled ${arg}; its apps lose access on their next request.`);
  } else if (group === 'clients' && command === 'register') {
    const auth = values['jwks-file'] ? 'jwks' : values.secret ? 'secret' : 'none';
    const { clientId, clientSecret } = await registerClient(db, {
      name: values.name ?? '',
      redirectUris: values['redirect-uri'] ?? [],
      auth,
      ...(values['launch-uri'] ? { launchUri: values['launch-uri'] } : {}),
      ...(values['jwks-file'] ? { jwksFile: values['jwks-file'] } : {}),
      ...(values.backend ? { backend: true } : {}),
    });
    console.log(`client_id ${clientId}${clientSecret ? `\nclient_secret ${clientSecret}` : ''}`);
  } else if (group === 'keys' && command === 'rotate') {
    const hours = Number(values['publish-hours'] ?? 24);
    if (!Number.isFinite(hours) || hours < 0) throw new AdminError('--publish-hours must be a non-negative number');
    await rotateSigningKey(db, { publishForSeconds: hours * 3600, maxTokenLifetimeSeconds: Math.max(config.auth.accessTokenTtlSeconds, 3600) });
    console.log(`New signing key published; it signs from ${new Date(Date.now() + hours * 3_600_000).toISOString()}.`);
  } else if (group === 'holds' || group === 'rules') {
    const lines = await (group === 'holds' ? holdsCommand : rulesCommand)(db, command, arg, values, new Date());
    for (const line of lines) console.log(line);
  } else {
    throw new AdminError(`unknown command "${positionals.join(' ')}"\n\n${HELP}`);
  }
} catch (err) {
  if (!(err instanceof AdminError || err instanceof RuleError)) throw err;
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await db.destroy();
}

function accountSubject(): AccountSubject {
  if (values.patient) return { kind: 'patient', patientId: values.patient };
  if (values.practitioner) return { kind: 'practitioner', practitionerId: values.practitioner };
  if (values['related-person']) {
    if (!values['acts-for'] || !values.basis) throw new AdminError('--related-person needs --acts-for <patient id> and --basis');
    return { kind: 'related-person', relatedPersonId: values['related-person'], actsFor: values['acts-for'], basis: values.basis as DelegationBasis };
  }
  throw new AdminError('give --patient, --related-person or --practitioner');
}
