import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenProvider } from '../../src/auth/token-provider.js';
import { ImapIdleWatcher } from '../../src/inbound/imap-idle-watcher.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import type { Logger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { makeSelfSignedCert } from '../helpers/tls-cert.js';

// Issue 15 item 4: the IDLE connection logs in with XOAUTH2 and asks for a token on every
// connection; a token the server refuses is invalidated, so the reconnect gets a new one.
// Dovecot checks tokens at an introspection endpoint written here (RFC 7662, plain HTTP on
// loopback): the test decides which tokens are active, as an identity provider revoking one.
describe('IMAP IDLE watcher with OAuth (real Dovecot, XOAUTH2)', () => {
  const user = 'contracts@acme.test';
  const active = new Set<string>();
  let introspection: Server;
  let dovecot: Dovecot;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailctl-idle-oauth-'));
    introspection = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? '';
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(active.has(token) ? { active: true, email: user } : { active: false }));
      });
    });
    await new Promise<void>((resolve) => introspection.listen(0, '127.0.0.1', resolve));
    const { port } = introspection.address() as { port: number };
    dovecot = await startDovecot({
      users: [{ name: user, password: 'unused' }],
      // The CA is not used over plain HTTP; the helper wants one.
      oauth2: { introspectionUrl: `http://client:secret@127.0.0.1:${port}/introspect`, caFile: makeSelfSignedCert(dir).certPath },
    });
  });
  afterAll(async () => {
    await dovecot?.stop();
    await new Promise((resolve) => introspection?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a token revoked while idling: the server drops the session, the refused token is invalidated, the reconnect logs in with a new one', async () => {
    // A provider as OAuthTokenProvider behaves: the cached token until invalidated, then a new one.
    let issued = 0;
    let cached: string | undefined;
    const asked: string[] = [];
    const tokens: TokenProvider & { invalidations: number } = {
      invalidations: 0,
      async getToken() {
        if (!cached) {
          cached = `token-${++issued}`;
          active.add(cached); // issued by the provider: the server accepts it until revoked
        }
        asked.push(cached);
        return cached;
      },
      async invalidate() {
        this.invalidations++;
        cached = undefined;
      },
    };
    const account: InboundAccount = {
      table: 'contracts', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none',
      auth: { type: 'oauth2', provider: 'microsoft', username: user, clientId: 'mailctl-app', flow: 'client_credentials' },
      folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    };
    const warnings: string[] = [];
    const log: Logger = { info: () => undefined, warn: (_, m) => warnings.push(m), error: (_, m) => warnings.push(m) };
    let calls = 0;
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    const watcher = new ImapIdleWatcher(account, { secrets, timeoutMs: 5000, log, random: () => 0, tokensFor: () => tokens, onNewMail: () => { calls++; } });
    try {
      watcher.start();
      await until(() => watcher.status().state === 'idle' && calls === 1, 5000);
      expect(asked).toEqual(['token-1']);

      // Revoked at the provider; the server ends the session (as a password change does).
      active.delete('token-1');
      execFileSync('doveadm', ['-c', join(dovecot.dir, 'dovecot.conf'), 'kick', user], { stdio: 'pipe' });
      // 1 s: token-1 again (still cached), refused → invalidated; 2 s later: token-2, accepted.
      await until(() => watcher.status().state === 'idle' && calls === 2, 8000);
      expect(asked).toEqual(['token-1', 'token-1', 'token-2']);
      expect(tokens.invalidations).toBe(1);
      expect(warnings).toHaveLength(1);
    } finally {
      await watcher.stop();
    }
  });
});

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
