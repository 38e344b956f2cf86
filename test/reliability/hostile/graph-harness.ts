import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, inject } from 'vitest';
import { freePort } from '../../helpers/free-port.js';
import { startGraphFixture, type GraphFixture, type GraphIntercept } from '../../helpers/graph-fixture.js';
import { startOAuthServer, type OAuthServer } from '../../helpers/oauth-server.js';
import { binPath, runCli } from '../../helpers/run-cli.js';

/**
 * What the hostile-Graph tests share: a local OAuth server (client credentials, as a
 * Microsoft 365 app gets its token), a Graph stand-in whose answers the test can take over
 * (`intercept`), and a KB whose one inbound account polls it through the real CLI.
 */
export const mailbox = 'contracts@acme.test';
const clientSecret = 'Hostile8Q~secret.value-0123456789abcdefABCDEF';

export async function startOAuth(): Promise<OAuthServer> {
  return startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: mailbox });
}

/** A Graph stand-in that takes any token the OAuth server issued (asked by introspection). */
export function startHostileGraph(oauth: OAuthServer, intercept?: GraphIntercept): Promise<GraphFixture> {
  return startGraphFixture({ token: 'unused', mailbox, validate: async (token) => (await oauth.introspect(token)).active === true, ...(intercept ? { intercept } : {}) });
}

export interface GraphKb {
  env: Record<string, string>;
  cli(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
}

/** A KB in `home` with the inbound account "contracts" on Graph at `graphUrl` (records from lee@partner.test). */
export async function graphKb(home: string, oauth: OAuthServer, graphUrl: string, after: 'delete' | 'mark-read' = 'delete'): Promise<GraphKb> {
  const env: Record<string, string> = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cli(['tables', 'add', 'contracts']);
  await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'contracts']);
  await cli(['configure', 'inbound', 'contracts', '--protocol', 'graph', '--graph-url', graphUrl, '--username', mailbox, '--mailbox', mailbox, '--folder', 'inbox',
    '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--secret-stdin',
    '--create-records', '--unknown-sender', 'ignore', '--notes', 'whole-body', '--after', after, '--no-verify'], clientSecret);
  return { env, cli };
}

export interface AccountReport {
  table: string;
  status: 'ok' | 'failed' | 'skipped';
  error?: string;
  poll?: { listed: number; processed: number; alreadyTaken: number; dispositions: Record<string, number> };
}

export interface MeasuredRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The child's peak resident memory (VmHWM), bytes. */
  peakRss: number;
  ms: number;
  /** `--json` output's first account, when the output was JSON. */
  account: AccountReport | undefined;
}

/**
 * Runs the built CLI (as a user would) and samples its peak RSS from /proc every 20 ms;
 * killed after `timeoutMs` (then `code` is -1: a run that did not end is a failure to show).
 */
export function runMeasured(args: string[], env: Record<string, string>, timeoutMs: number): Promise<MeasuredRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = () => {
      try {
        const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024);
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 20);
    let killed = false;
    const deadline = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      let account: AccountReport | undefined;
      try {
        account = (JSON.parse(stdout) as { accounts: AccountReport[] }).accounts[0];
      } catch {
        account = undefined;
      }
      resolve({ code: killed ? -1 : (code ?? -1), stdout, stderr, peakRss, ms: Date.now() - started, account });
    });
  });
}

export const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
