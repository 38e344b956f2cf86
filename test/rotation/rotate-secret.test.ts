import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { materializeSecrets } from '../../src/config/property-secrets.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { binPath, runCli, type CliResult } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const OLD = 'Old8Q~expired.secret-value_0123456789ab';
const NEW = 'New8Q~fresh.secret-value_9876543210zyxw';
const mailbox = 'mail@acme.test';

/** Microsoft-style custom properties: the secret three times, CRLF and odd spacing included. */
const propertiesFor = (clientId: string, secret: string) => [
  '# Microsoft 365 (client credentials)\r\n',
  `mail.smtp.oauth2.client_id=${clientId}\r\n`,
  `mail.smtp.oauth2.client_secret=${secret}\r\n`,
  'mail.smtp.auth.mechanisms=XOAUTH2\r\n',
  `mail.imap.oauth2.client_secret = ${secret}\n`,
  '\n',
  `client_secret=${secret}`,
].join('');

describe('mailctl rotate-secret against the local OAuth server, Dovecot and an SMTP server', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let dovecot: Dovecot;
  let sink: SmtpSink;
  const outputs: string[] = [];
  beforeAll(async () => {
    const cert = inject('oauthCert');
    oauth = await startOAuthServer({ cert, port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: OLD, publicClientId: 'mailctl-public', appMailbox: mailbox, otherApps: { 'other-app': 'Other8Q~secret-of-another-app-000000' } });
    dovecot = await startDovecot({ users: [{ name: mailbox, password: 'unused' }], folders: ['Support'], oauth2: { introspectionUrl: oauth.introspectionUrl, caFile: cert.certPath } });
    sink = await startSmtpSink({
      oauth: async (user, token) => {
        return user === mailbox && (await oauth.introspect(token)).active === true;
      },
    });
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
    await oauth?.close();
  });

  const run = async (args: string[], env: Record<string, string>, input?: string): Promise<CliResult> => {
    const result = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
    outputs.push(result.stdout, result.stderr, args.join(' '));
    return result;
  };

  /** A KB whose outbound server and two inbound accounts keep the secret three times each. */
  async function setUp(supportClientId = 'mailctl-app') {
    oauth.setClientSecret(OLD);
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
    await run(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], env);
    for (const t of ['contracts', 'support']) await run(['tables', 'add', t], env);
    const files: Record<string, string> = {};
    for (const [place, clientId] of [['outbound', 'mailctl-app'], ['contracts', 'mailctl-app'], ['support', supportClientId]] as const) {
      files[place] = join(env.MAILCTL_HOME, `${place}.properties`);
      writeFileSync(files[place]!, propertiesFor(clientId, clientId === 'other-app' ? 'Other8Q~secret-of-another-app-000000' : OLD));
    }
    const oauthArgs = (clientId: string) => ['--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', clientId, '--username', mailbox];
    const out = await run(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', ...oauthArgs('mailctl-app'), '--from', mailbox, '--properties-file', files.outbound!], env);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    for (const [table, folder, clientId] of [['contracts', 'INBOX', 'mailctl-app'], ['support', 'Support', supportClientId]] as const) {
      const r = await run(['configure', 'inbound', table, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', ...oauthArgs(clientId),
        '--folder', folder, '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--create-records', '--properties-file', files[table]!], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    for (const f of Object.values(files)) writeFileSync(f, ''); // the admin's source files are not mailctl's concern
    return env;
  }

  /** The properties of every place, secrets filled in from the store (what a server would be given). */
  async function materialized(home: string): Promise<Record<string, string>> {
    const store = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key') });
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    return {
      outbound: await materializeSecrets(config.outbound.properties, store),
      contracts: await materializeSecrets(config.inbound.contracts.properties, store),
      support: await materializeSecrets(config.inbound.support.properties, store),
    };
  }

  it('finds all nine, replaces only the secret text, renews tokens, verifies every account', async () => {
    const env = await setUp();
    const configBefore = readFileSync(join(env.MAILCTL_HOME, 'config.json'));
    const dry = await run(['rotate-secret', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Found: outbound: 3, contracts: 3, support: 3');
    expect(dry.stdout).toMatch(/^outbound\s+mail\.smtp\.oauth2\.client_secret\s+3\s+\*{8}89ab/m);
    expect(readFileSync(join(env.MAILCTL_HOME, 'config.json')).equals(configBefore)).toBe(true);

    oauth.setClientSecret(NEW); // the old secret expired at the provider
    const rotated = await run(['rotate-secret', '--secret-stdin', '--json'], env, `${NEW}\n`);
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const json = JSON.parse(rotated.stdout);
    expect(json).toMatchObject({ ok: true, kept: true, counts: [{ place: 'outbound', count: 3 }, { place: 'inbound/contracts', count: 3 }, { place: 'inbound/support', count: 3 }] });
    expect(json.results.map((r: { place: string; replaced: number; ok: boolean }) => [r.place, r.replaced, r.ok])).toEqual([['outbound', 3, true], ['inbound/contracts', 3, true], ['inbound/support', 3, true]]);

    // Byte for byte: every place's properties are the old text with only the secret replaced.
    const after = await materialized(env.MAILCTL_HOME);
    expect(after.outbound).toBe(propertiesFor('mailctl-app', NEW));
    expect(after.contracts).toBe(propertiesFor('mailctl-app', NEW));
    expect(after.support).toBe(propertiesFor('mailctl-app', NEW));
    expect(readFileSync(join(env.MAILCTL_HOME, 'config.json')).equals(configBefore)).toBe(true); // only references there

    expect((await run(['test-send', '--to', 'pat@acme.test'], env)).code).toBe(0);
    expect((await run(['test-inbound'], env)).code).toBe(0);
  });

  it('flags an occurrence left over from a half-done rotation, and another app\'s secret', async () => {
    const env = await setUp('other-app');
    const result = await run(['rotate-secret', '--dry-run', '--json'], env);
    const json = JSON.parse(result.stdout);
    const support = json.occurrences.filter((o: { place: string }) => o.place === 'inbound/support');
    expect(support.every((o: { differs: boolean; otherApp: boolean }) => o.differs && o.otherApp)).toBe(true);
    expect(json.toReplace).toBe(6); // the other app is left alone in a script
  });

  it('rolls everything back when the new secret is wrong for one account (bytes identical to before)', async () => {
    const env = await setUp('other-app');
    const before = await materialized(env.MAILCTL_HOME);
    oauth.setClientSecret(NEW);
    const result = await run(['rotate-secret', '--secret-stdin', '--include-other-apps'], env, NEW);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/support: account: Getting an OAuth token failed: invalid_client/);
    expect(result.stderr).toContain('Rolled back: every old secret and token is back, in all 9 place(s).');
    expect(await materialized(env.MAILCTL_HOME)).toEqual(before);
  });

  it('a run killed half-way is rolled back by the next mailctl command, never left mixed', async () => {
    const env = await setUp();
    const child = spawn(process.execPath, [binPath, 'rotate-secret', '--secret-stdin'], { env: { PATH: process.env.PATH ?? '', ...env, MAILCTL_ROTATE_STEP_DELAY_MS: '400' } });
    child.stdin.end(NEW);
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress: ${stdout}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (/replaced 4\/9/.test(stdout)) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.on('close', r));
    outputs.push(stdout);
    const mixed = await materialized(env.MAILCTL_HOME);
    expect(Object.values(mixed).join('')).toContain(NEW); // it really stopped half-way
    expect(Object.values(mixed).join('')).toContain(OLD);

    const next = await run(['secrets', 'status'], env);
    expect(next.stderr).toMatch(/An interrupted rotate-secret \(rot-[0-9a-f]+\) was rolled back: the old secret is back in all 9 places/);
    const after = await materialized(env.MAILCTL_HOME);
    for (const text of Object.values(after)) expect(text).toBe(propertiesFor('mailctl-app', OLD));
  });

  it('refuses a secret ID where the value belongs, and an empty secret', async () => {
    const env = await setUp();
    const id = await run(['rotate-secret', '--secret-stdin'], env, '8f2b6c1e-3d4a-4b5c-9e8f-0a1b2c3d4e5f');
    expect(id.code).toBe(2);
    expect(id.stderr).toContain('looks like the secret\'s ID (a GUID), not its value');
    expect((await run(['rotate-secret', '--secret-stdin'], env, '\n')).code).toBe(2);
  });

  it('leaks no secret: not in any output, argv, config file, database or audit row', async () => {
    const env = await setUp();
    const audit = await run(['rotate-secret', '--dry-run', '--json'], env);
    expect(audit.code).toBe(0);
    const files = readdirSync(env.MAILCTL_HOME).filter((f) => !['secrets.enc', 'master.key'].includes(f));
    const everything = [...outputs, ...files.map((f) => readFileSync(join(env.MAILCTL_HOME, f)).toString('latin1'))].join('\n');
    for (const secret of [OLD, NEW, 'Other8Q~secret-of-another-app-000000']) {
      expect(everything.includes(secret), `found ${secret.slice(0, 6)}…`).toBe(false);
      expect(everything.includes(secret.slice(-12)), `found the end of ${secret.slice(0, 6)}…`).toBe(false);
    }
  });
});
