import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { mb, runMeasured } from './graph-harness.js';

/**
 * Issue 14 (attack p16): an identity provider that never ends its JSON. openid-client and
 * msal-node read the whole body (5.7 GB peak RSS in 30 s) under their own fixed 30 s, not
 * --timeout; one trickling a byte a second held every poll 30 s. Now every token and
 * discovery request reads at most 1 MB, each wait is bounded by --timeout, the whole by 4×.
 */
/** Waits until `res` takes more or goes away, without leaving a listener behind. */
function drainedOrClosed(res: import('node:http').ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What the endless server sends at most: enough to show a cap, small enough for the old code not to hurt the machine. */
const endlessCap = 48 * 1024 * 1024;

type Mode = 'endless' | 'trickle';

async function hostileIdp(mode: Mode): Promise<{ url: string; sent: () => number; server: Server }> {
  const cert = inject('oauthCert');
  let sent = 0;
  const server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    void (async () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (mode === 'endless') {
        res.write('{"access_token":"');
        const chunk = Buffer.alloc(1 << 20, 'A');
        while (!res.destroyed && sent < endlessCap) {
          sent += chunk.length;
          if (!res.write(chunk)) await drainedOrClosed(res);
        }
        // Then it just holds the answer open.
      } else {
        res.write('{');
        while (!res.destroyed) {
          await sleep(1000);
          res.write(' ');
          sent++;
        }
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, sent: () => sent, server };
}

/** A KB with one Graph account whose token comes from `idp` (generic: openid-client; microsoft: msal-node). */
async function kbWithToken(home: string, provider: 'generic' | 'microsoft', idp: string): Promise<Record<string, string>> {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  };
  await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cli(['tables', 'add', 'contracts']);
  const where = provider === 'generic' ? ['--token-url', `${idp}/token`] : ['--authority', idp];
  await cli(['configure', 'inbound', 'contracts', '--protocol', 'graph', '--graph-url', 'http://127.0.0.1:9/v1.0', '--username', 'box@acme.test', '--mailbox', 'box@acme.test',
    '--folder', 'inbox', '--auth', 'oauth2', '--oauth-provider', provider, ...where, '--client-id', 'app', '--secret-stdin',
    '--create-records', '--unknown-sender', 'ignore', '--after', 'delete', '--no-verify'], 'Hostile8Q~secret.value-0123456789abcdef');
  return env;
}

describe('OAuth: a token endpoint that never ends its answer is bounded', () => {
  const tempDir = useTempDirs();
  const servers: Server[] = [];
  afterEach(() => { for (const s of servers.splice(0)) s.close(); });

  for (const provider of ['generic', 'microsoft'] as const) {
    it(`${provider}: an endless JSON answer is cut at 1 MB, at once, with a clear error`, async () => {
      const idp = await hostileIdp('endless');
      servers.push(idp.server);
      const env = await kbWithToken(tempDir(), provider, idp.url);
      const run = await runMeasured(['daemon', '--once', '--timeout', '5s', '--json'], env, 40_000);
      const said = `${run.stdout}\n${run.stderr}`;
      expect(run.code, said).not.toBe(-1);
      expect(said).toMatch(/more than 1048576 bytes/);
      // The client stopped reading: what the server pushed is the cap plus socket buffers, not the 48 MB it had.
      expect(idp.sent(), `server sent ${mb(idp.sent())} MB`).toBeLessThan(16 * 1024 * 1024);
      expect(run.peakRss, `peak RSS ${mb(run.peakRss)} MB`).toBeLessThan(300 * 1024 * 1024);
      expect(run.ms).toBeLessThan(20_000);
    }, 60_000);
  }

  it('generic: a byte a second ends at 4 × --timeout (12 s for 3s), not openid-client\'s 30 s', async () => {
    const idp = await hostileIdp('trickle');
    servers.push(idp.server);
    const env = await kbWithToken(tempDir(), 'generic', idp.url);
    const run = await runMeasured(['daemon', '--once', '--timeout', '3s', '--json'], env, 40_000);
    const said = `${run.stdout}\n${run.stderr}`;
    expect(run.code, said).not.toBe(-1);
    expect(said).toMatch(/took more than 12 s/);
    expect(run.ms).toBeLessThan(22_000);
  }, 60_000);
});
