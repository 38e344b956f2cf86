import { spawn } from 'node:child_process';
import { scryptSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { simpleMessage } from '../helpers/messages.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { PtySession } from '../helpers/pty-session.js';
import { binPath, runCli, type CliResult } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue #8, point 9: a full run with every kind of secret in use, then every file mailctl
// wrote, every log line, every byte it printed and every argv it was run with is searched
// for every secret value (and the encodings a secret travels in). Nothing may be found.
// Every kind of secret and every command runs at both tiers; the full tier adds each
// command's other output forms (human, --json, --debug).
const everyVariant = bySize(true, false);

const SMTP_USER = 'records@acme.test';
const SMTP_PASSWORD = 'Smtp-Pa55word.for_records-7Qx2';
const WRONG_SMTP_PASSWORD = 'Smtp-Wr0ng.guess_of-the-password-4Kd9';
const IMAP_USER = 'contracts@acme.test';
const IMAP_PASSWORD = 'Imap-Pa55word.contracts_box-9Wm3';
const WRONG_IMAP_PASSWORD = 'Imap-Wr0ng.guess_contracts-2Lp8';
const OAUTH_APP_USER = 'support@acme.test';
const DELEGATED_USER = 'cases@acme.test';
const CLIENT_SECRET = 'Cs1~8Q.client-secret_value-0a1b2c3d4e5f';
const WRONG_CLIENT_SECRET = 'Cs0~8Q.wrong-client-secret-ffeeddccbbaa';
const NEW_CLIENT_SECRET = 'Cs2~8Q.rotated-secret_value-66778899aabb';
const REFUSED_NEW_SECRET = 'Cs3~8Q.never-accepted-secret-1029384756';
const MASTER_KEY = 'master passphrase: correct horse battery 4f1c';
const PROPERTY_SECRETS: Record<string, string> = {
  'mail.smtp.password': 'Prop-Pa55.smtp-password_31337x',
  api_key: 'Prop-ApiKey.0123456789abcdefXY',
  'mail.smtp.oauth2.refresh_token': 'Prop-Refresh.1.AQABAAEAAAD--DLA3VO7Qrdd',
  token: 'Prop-Token.eyJ0eXAiOiJKV1QiLCJhbGciOi',
  secret: 'Prop-Secret.zx81-spectrum-c64-amiga',
};
const PROPERTIES = [
  '# the records system\'s custom settings for outbound mail\r\n',
  'mail.smtp.host=smtp.acme.test\r\n',
  `mail.smtp.user=${SMTP_USER}\r\n`,
  `mail.smtp.password=${PROPERTY_SECRETS['mail.smtp.password']}\r\n`,
  `api_key = ${PROPERTY_SECRETS.api_key}\n`,
  `mail.smtp.oauth2.refresh_token=${PROPERTY_SECRETS['mail.smtp.oauth2.refresh_token']}\n`,
  `token: ${PROPERTY_SECRETS.token}\n`,
  `secret=${PROPERTY_SECRETS.secret}\n`,
].join('');

interface Source {
  category: 'config dir' | 'secret store file' | 'daemon log' | 'stdout/stderr' | 'terminal (pty)' | 'argv' | 'sent mail';
  name: string;
  data: Buffer;
}

/** Every form a secret may travel in: as is, base64 (AUTH LOGIN), AUTH PLAIN, XOAUTH2, URL-encoded, HTTP Basic. */
function formsOf(label: string, value: string, kind: 'password' | 'client-secret' | 'token' | 'key'): Array<{ label: string; text: string }> {
  const forms = new Map<string, string>([[value, label]]);
  const add = (form: string, text: string) => { if (!forms.has(text)) forms.set(text, `${label} (${form})`); };
  add('base64', Buffer.from(value).toString('base64'));
  add('URL-encoded', encodeURIComponent(value));
  if (kind === 'password') for (const user of [SMTP_USER, IMAP_USER]) add(`AUTH PLAIN for ${user}`, Buffer.from(`\0${user}\0${value}`).toString('base64'));
  if (kind === 'client-secret') add('HTTP Basic', Buffer.from(`mailctl-app:${value}`).toString('base64'));
  if (kind === 'token') for (const user of [SMTP_USER, OAUTH_APP_USER, DELEGATED_USER]) add(`XOAUTH2 for ${user}`, Buffer.from(`user=${user}\x01auth=Bearer ${value}\x01\x01`).toString('base64'));
  return [...forms].map(([text, l]) => ({ label: l, text }));
}

/** String leaves of a secret-store value that are secrets: tokens, secrets, passwords (msal's cache is JSON inside JSON). */
function secretLeaves(value: string, path = ''): Array<{ path: string; value: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [{ path, value }];
  }
  if (typeof parsed !== 'object' || parsed === null) return [{ path, value }];
  const out: Array<{ path: string; value: string }> = [];
  const walk = (node: unknown, at: string) => {
    if (typeof node === 'string') {
      if (node.startsWith('{')) out.push(...secretLeaves(node, at));
      else if (/(token|secret|password|key)$/i.test(at) && !/(expires|issued|type|_id|kid)$/i.test(at) && node.length >= 12) out.push({ path: at, value: node });
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, /^\d+$|^[a-z0-9-]+\.[a-z0-9.-]+/i.test(k) ? at : `${at}.${k}`.replace(/^\./, ''));
    }
  };
  walk(parsed, path);
  return out;
}

describe('secrets never leak: every kind in use, every output scanned', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    const cert = inject('oauthCert');
    oauth = await startOAuthServer({ cert, port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: CLIENT_SECRET, publicClientId: 'mailctl-public', appMailbox: OAUTH_APP_USER });
    dovecot = await startDovecot({
      users: [{ name: IMAP_USER, password: IMAP_PASSWORD }, { name: OAUTH_APP_USER, password: 'not-used-by-mailctl-1' }, { name: DELEGATED_USER, password: 'not-used-by-mailctl-2' }],
      oauth2: { introspectionUrl: oauth.introspectionUrl, caFile: cert.certPath },
    });
    sink = await startSmtpSink({ auth: { user: SMTP_USER, pass: SMTP_PASSWORD } });
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
    await oauth?.close();
  });

  it('finds no secret in the config directory, the secret store file, the daemon log, any output or any argv', async () => {
    const home = tempDir();
    const scratch = tempDir(); // the admin's own files (a properties file), not mailctl's
    const logFile = join(tempDir(), 'mailctl-daemon.log');
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', MAILCTL_MASTER_KEY: MASTER_KEY, NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
    const sources: Source[] = [];
    const argvs: string[][] = [];
    const codes: Array<[string, number, number]> = [];
    const run = async (args: string[], options: { input?: string; expect?: number | 'any'; timeoutMs?: number } = {}): Promise<CliResult> => {
      argvs.push([process.execPath, binPath, ...args]);
      const started = Date.now();
      const result = await runCli(args, { env, timeoutMs: options.timeoutMs ?? 60_000, ...(options.input !== undefined ? { input: options.input } : {}) });
      sources.push({ category: 'stdout/stderr', name: `mailctl ${args.join(' ')}`.slice(0, 120), data: Buffer.from(`${result.stdout}\n${result.stderr}`) });
      codes.push([args.slice(0, 3).join(' '), result.code, Date.now() - started]);
      if (options.expect !== 'any') expect(result.code, `mailctl ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(options.expect ?? 0);
      return result;
    };
    /** A second form of a command already run: full tier only. */
    const variant = async (args: string[], options: { input?: string; expect?: number | 'any' } = {}) => (everyVariant ? run(args, options) : undefined);
    const pty = async (args: string[], drive: (s: PtySession) => Promise<void>) => {
      argvs.push([process.execPath, binPath, ...args]);
      const started = Date.now();
      const s = new PtySession(args, env);
      try {
        await drive(s);
        expect(await s.exited, s.screen).toBe(0);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- screen ---\n${s.screen}`);
      } finally {
        s.kill();
        codes.push([`(terminal) ${args.slice(0, 3).join(' ')}`, -1, Date.now() - started]);
        sources.push({ category: 'terminal (pty)', name: `mailctl ${args.join(' ')}`.slice(0, 120), data: Buffer.from(s.rawOutput) });
      }
    };

    // Every secret value mailctl stored, at each point (tokens come and go).
    const store = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key'), masterKey: MASTER_KEY });
    const stored = new Map<string, string>();
    const harvest = async () => {
      if (!existsSync(join(home, 'secrets.enc'))) return;
      const names = Object.keys(JSON.parse(readFileSync(join(home, 'secrets.enc'), 'utf8')).entries as Record<string, unknown>);
      for (const name of names) {
        const value = await store.get(name);
        if (value === undefined) continue;
        for (const leaf of secretLeaves(value)) stored.set(leaf.value, `${name}${leaf.path ? `:${leaf.path}` : ''}`);
      }
    };

    // The KB, with the master key from the environment.
    await run(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await run(['secrets', 'status', '--json']);
    await variant(['secrets', 'status']);
    for (const table of ['contracts', 'support', 'cases']) await run(['tables', 'add', table]);
    await run(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    const record = JSON.parse((await run(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal', '--created-by', 'pat@acme.test', '--json'])).stdout).record;
    await run(['config', 'set', 'inbound_check_frequency', '5s']);

    // Outbound: SMTP password (a wrong one first, so the refusal is printed), custom property secrets.
    const server = ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'password', '--username', SMTP_USER, '--from', SMTP_USER];
    await run([...server, '--secret-stdin'], { input: WRONG_SMTP_PASSWORD, expect: 13 });
    await variant([...server, '--secret-stdin', '--json', '--debug'], { input: WRONG_SMTP_PASSWORD, expect: 13 });
    await run([...server, '--secret-stdin'], { input: `${SMTP_PASSWORD}\n` });
    // On a terminal: the password at the hidden prompt.
    await pty(server, async (s) => {
      await s.waitFor(/Password \(Enter keeps the current one\)/, 20_000);
      s.type(`${SMTP_PASSWORD}\r`);
      await s.waitFor('Edit the custom configuration properties?');
      s.type('\r'); // no
      await s.waitFor(/logged in as records@acme\.test/, 20_000);
    });
    await run(['properties', 'set', 'outbound', '--file', '-'], { input: PROPERTIES });
    const shown = await run(['properties', 'show', 'outbound']);
    expect(shown.stdout).toContain('mail.smtp.host=smtp.acme.test');
    await variant(['properties', 'show', 'outbound', '--json']);
    await run(['test-send', '--to', 'pat@acme.test', '--transcript']);
    await variant(['test-send', '--to', 'pat@acme.test', '--json']);
    await variant(['test-send', '--to', 'pat@acme.test', '--transcript', '--quit-after', 'auth']);
    // A wrong password saved without checking: the failure and its transcript are printed.
    await run([...server, '--secret-stdin', '--no-verify'], { input: WRONG_SMTP_PASSWORD });
    await run(['test-send', '--to', 'pat@acme.test', '--transcript'], { expect: 13 });
    await variant(['test-send', '--to', 'pat@acme.test', '--json', '--debug'], { expect: 13 });
    await run([...server, '--secret-stdin'], { input: SMTP_PASSWORD });

    // Inbound: an IMAP password, an OAuth app (client credentials; its secret also in the
    // account's properties), and a person's delegated sign-in (device code, refresh token).
    const imap = ['--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--folder', 'INBOX', '--notes', 'new-text', '--after', 'mark-read', '--unknown-sender', 'ignore', '--create-records'];
    await run(['configure', 'inbound', 'contracts', ...imap, '--auth', 'password', '--username', IMAP_USER, '--secret-stdin'], { input: WRONG_IMAP_PASSWORD, expect: 1 });
    await variant(['configure', 'inbound', 'contracts', ...imap, '--auth', 'password', '--username', IMAP_USER, '--secret-stdin', '--json', '--debug'], { input: WRONG_IMAP_PASSWORD, expect: 1 });
    await run(['configure', 'inbound', 'contracts', ...imap, '--auth', 'password', '--username', IMAP_USER, '--secret-stdin'], { input: IMAP_PASSWORD });
    const oauthApp = ['configure', 'inbound', 'support', ...imap, '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--username', OAUTH_APP_USER];
    await run([...oauthApp, '--secret-stdin'], { input: WRONG_CLIENT_SECRET, expect: 'any' });
    const supportProperties = join(scratch, 'support.properties');
    writeFileSync(supportProperties, `mail.imap.oauth2.client_id=mailctl-app\nmail.imap.oauth2.client_secret=${CLIENT_SECRET}\n`);
    await run([...oauthApp, '--secret-stdin', '--properties-file', supportProperties], { input: CLIENT_SECRET });
    await run(['configure', 'inbound', 'cases', ...imap, '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--oauth-flow', 'device_code', '--authority', oauth.issuer, '--client-id', 'mailctl-public', '--username', DELEGATED_USER]);
    const signIn = async () => pty(['reset-oauth', 'inbound', 'cases'], async (s) => {
      const shown = await s.waitFor(/enter the code ([A-Z]{4}-[A-Z]{4})/, 30_000);
      await oauth.approveDeviceCode(/enter the code ([A-Z]{4}-[A-Z]{4})/.exec(shown)![1]!, DELEGATED_USER);
      await s.waitFor(`Signed in as ${DELEGATED_USER}`, 30_000);
      await s.waitFor('The account is valid', 30_000);
    });
    await signIn();
    await run(['test-inbound', '--json']);
    await variant(['test-inbound']);
    await harvest();

    // The daemon: --once, then the long-running one with its JSON log file.
    await run(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Renewal draft', '--body', 'Please review.']);
    dovecot.deliver(IMAP_USER, simpleMessage({ from: 'pat@acme.test', subject: 'New NDA', messageId: 'scan-1@acme.test' }));
    dovecot.deliver(OAUTH_APP_USER, simpleMessage({ from: 'sam@outside.test', subject: 'Help', messageId: 'scan-2@outside.test' }));
    dovecot.deliver(DELEGATED_USER, simpleMessage({ from: 'kim@outside.test', subject: 'A case', messageId: 'scan-3@outside.test' }));
    await run(['daemon', '--once', '--json']);
    await variant(['daemon', '--once']);
    await run(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Second draft', '--body', 'Again.']);
    {
      const args = ['daemon', '--log-file', logFile, '--tick', '0.2s'];
      argvs.push([process.execPath, binPath, ...args]);
      const started = Date.now();
      const daemon = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let printed = '';
      daemon.stdout.on('data', (d: Buffer) => (printed += d.toString()));
      daemon.stderr.on('data', (d: Buffer) => (printed += d.toString()));
      const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
      const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
      const waitFor = async (pattern: RegExp, ms = 30_000) => {
        const deadline = Date.now() + ms;
        while (!pattern.test(log())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; log:\n${log()}\n${printed}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      try {
        await waitFor(/"msg":"polled cases"/);
        await waitFor(/"msg":"outbound cycle"/);
        // Every token revoked at the provider: the next polls of the OAuth accounts fail, and the failures are logged.
        await oauth.revokeAll();
        await waitFor(/"msg":"polling (support|cases) failed"/);
        daemon.kill('SIGTERM');
        expect(await exited).toBe(0);
        codes.push(['(long-running) daemon --log-file', 0, Date.now() - started]);
      } finally {
        daemon.kill('SIGKILL');
        sources.push({ category: 'stdout/stderr', name: `mailctl ${args.join(' ')}`, data: Buffer.from(printed) });
      }
    }
    await harvest();

    // Recover the OAuth accounts, look at everything, rotate the client secret (one refused, one accepted).
    await run(['test-inbound', '--json'], { expect: 1 });
    await run(['reset-oauth', 'inbound', 'support']);
    await run(['reset-oauth', 'inbound', 'cases'], { expect: 1 }); // delegated: a person must sign in
    await signIn();
    // Read-only: two at a time.
    const look = [['status', '--json'], ['queue', 'list', '--json'], ['queue', 'show', '1', '--json'], ['comms', 'list', '--json'], ['config', 'show', '--json'], ['records', 'show', String(record.id), '--json'],
      ['inbound', 'list', '--json'], ['keys', 'list', '--json'], ...(everyVariant ? [['status'], ['config', 'show'], ['inbound', 'list'], ['queue', 'list'], ['comms', 'list'], ['explain', '535 5.7.8 Authentication credentials invalid']] : [])];
    for (let i = 0; i < look.length; i += 2) await Promise.all(look.slice(i, i + 2).map((args) => run(args)));
    await run(['doctor', '--json'], { expect: 'any' });
    await variant(['doctor', '--no-network'], { expect: 'any' });
    await run(['rotate-secret', '--dry-run', '--json']);
    await variant(['rotate-secret', '--dry-run']);
    oauth.setClientSecret(NEW_CLIENT_SECRET); // the old secret expired at the provider
    await run(['rotate-secret', '--secret-stdin'], { input: REFUSED_NEW_SECRET, expect: 1 }); // not the provider's: rolled back
    await run(['rotate-secret', '--secret-stdin', '--json'], { input: `${NEW_CLIENT_SECRET}\n` });
    await harvest();
    await run(['test-inbound', '--json']);
    await run(['reset-oauth', '--all', '--json'], { expect: 1 }); // the delegated account needs a person again
    await harvest();
    await signIn();
    await run(['test-send', '--to', 'pat@acme.test', '--transcript']);
    await run(['daemon', '--once', '--json']);
    await harvest();

    // What to look for: every secret we gave mailctl, every secret it stored, and their encodings.
    const needles: Array<{ label: string; text: string }> = [
      ...formsOf('SMTP password', SMTP_PASSWORD, 'password'),
      ...formsOf('wrong SMTP password', WRONG_SMTP_PASSWORD, 'password'),
      ...formsOf('IMAP password', IMAP_PASSWORD, 'password'),
      ...formsOf('wrong IMAP password', WRONG_IMAP_PASSWORD, 'password'),
      ...formsOf('client secret', CLIENT_SECRET, 'client-secret'),
      ...formsOf('wrong client secret', WRONG_CLIENT_SECRET, 'client-secret'),
      ...formsOf('new client secret (rotate-secret)', NEW_CLIENT_SECRET, 'client-secret'),
      ...formsOf('refused new client secret (rotate-secret)', REFUSED_NEW_SECRET, 'client-secret'),
      ...formsOf('MAILCTL_MASTER_KEY', MASTER_KEY, 'key'),
      ...Object.entries(PROPERTY_SECRETS).flatMap(([key, value]) => formsOf(`property ${key}`, value, 'password')),
      ...[...stored].flatMap(([value, where]) => formsOf(`stored ${where}`, value, /oauth\//.test(where) ? 'token' : 'key')),
    ];
    const secretFile = JSON.parse(readFileSync(join(home, 'secrets.enc'), 'utf8')) as { kdf: string; salt?: string };
    expect(secretFile.kdf).toBe('scrypt'); // the passphrase is run through scrypt: the derived key is a secret too
    const derived = scryptSync(MASTER_KEY, Buffer.from(secretFile.salt!, 'base64'), 32);
    needles.push({ label: 'file-store key (hex)', text: derived.toString('hex') }, { label: 'file-store key (base64)', text: derived.toString('base64') });
    const storedKinds = [...stored.values()].join(' ');
    for (const kind of ['outbound/password', 'kb/refkey/k1', 'props/outbound/', 'oauth/inbound/support:accessToken', 'oauth/inbound/cases:msalCache']) expect(storedKinds, `a stored secret like ${kind}`).toContain(kind);
    expect([...stored.values()].some((where) => /cases:msalCache.*RefreshToken.*secret/.test(where)), `a refresh token among ${storedKinds}`).toBe(true);
    expect(existsSync(join(home, 'master.key'))).toBe(false); // MAILCTL_MASTER_KEY given: no key file is generated

    // Where to look.
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
    for (const file of walk(home)) {
      sources.push({ category: file.endsWith('secrets.enc') ? 'secret store file' : 'config dir', name: relative(home, file), data: readFileSync(file) });
    }
    sources.push({ category: 'daemon log', name: 'mailctl-daemon.log', data: readFileSync(logFile) });
    for (const argv of argvs) sources.push({ category: 'argv', name: argv.slice(2, 5).join(' '), data: Buffer.from(argv.join('\0')) });
    for (const [i, m] of sink.messages.entries()) sources.push({ category: 'sent mail', name: `message ${i + 1} to ${m.to.join(',')}`, data: m.raw });

    // The matcher itself finds every form (so zero hits below means absent, not unmatched).
    const haystack = Buffer.from(needles.map((n) => `<${n.text}>`).join('\n'));
    for (const n of needles) expect(haystack.includes(Buffer.from(n.text)), n.label).toBe(true);

    const hits: string[] = [];
    for (const source of sources) {
      for (const needle of needles) if (source.data.includes(Buffer.from(needle.text))) hits.push(`${needle.label} in ${source.category}: ${source.name}`);
    }

    // Not vacuous: each kind of source holds what it should (a known non-secret is found in it).
    const canaries: Record<Source['category'], string> = {
      'config dir': SMTP_USER, // config.json names the outbound login
      'secret store file': 'kb/refkey/k1', // entry names are in clear, values are not
      'daemon log': '"msg":"polled contracts"',
      'stdout/stderr': SMTP_USER,
      'terminal (pty)': DELEGATED_USER,
      argv: '--secret-stdin',
      'sent mail': 'pat@acme.test',
    };
    const summary: string[] = [];
    for (const [category, canary] of Object.entries(canaries) as Array<[Source['category'], string]>) {
      const of = sources.filter((s) => s.category === category);
      const bytes = of.reduce((sum, s) => sum + s.data.length, 0);
      expect(of.length, category).toBeGreaterThan(0);
      expect(of.some((s) => s.data.includes(Buffer.from(canary))), `"${canary}" in ${category}`).toBe(true);
      summary.push(`  ${category}: ${of.length} item(s), ${bytes} bytes${category === 'config dir' || category === 'secret store file' ? ` (${of.map((s) => s.name).join(', ')})` : ''}`);
    }
    expect(sources.find((s) => s.name === 'config.json')!.data.toString()).toMatch(/\$\{secret:props\/outbound\/[0-9a-f]+\}/); // property secrets became references
    console.log([
      `secrets scan (${reliabilityTier} tier): ${needles.length} secret forms (${stored.size} values mailctl stored, incl. OAuth access and refresh tokens) searched in ${sources.length} sources, ${sources.reduce((s, x) => s + x.data.length, 0)} bytes; ${argvs.length} mailctl runs`,
      ...summary,
      `  runs (exit code, seconds): ${codes.map(([c, n, ms]) => `${c}=${n} ${(ms / 1000).toFixed(1)}s`).join('; ')}`,
      `  found: ${hits.length}`,
    ].join('\n'));
    expect(hits).toEqual([]);
  }, 300_000);
});
