import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphFixture } from '../../helpers/graph-fixture.js';
import { simpleMessage } from '../../helpers/messages.js';
import type { OAuthServer } from '../../helpers/oauth-server.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { graphKb, mb, runMeasured, startHostileGraph, startOAuth } from './graph-harness.js';
import { startHostileImapServer, type HostileImapServer } from './hostile-imap-server.js';

/**
 * Issue 14 (attacks p04, p06): no byte cap on one message. An IMAP server listing RFC822.SIZE
 * 10^12 filled every 256 KB window asked for (5.3 GB pulled, 689 MB on disk in 30 s, no end);
 * a Graph $value without Content-Length streamed 1.1 GB to disk in 40 s. Now max_message_size
 * (set to 4 MB here) stops one there: the message's own failure, the later mail taken, and at
 * the third attempt it is quarantined with at most the cap of its bytes.
 */
/** Waits until `res` takes more or goes away, without leaving a listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}
const cap = 4 * 1024 * 1024;
/** What may be kept of a message stopped at the cap: the cap and the window or chunk in flight. */
const keptAtMost = cap + 1024 * 1024;

interface Poll { listed: number; processed: number; failed: Array<{ key: string; attempts: number; error: string }>; quarantined: Array<{ key: string; attempts: number }> }
type Comm = { mailboxKey: string; disposition: string; size: number };

describe('max_message_size: a message that never ends is stopped at the cap, IMAP and Graph', () => {
  const tempDir = useTempDirs();

  describe('IMAP', () => {
    let server: HostileImapServer | undefined;
    afterEach(async () => server?.close());

    it('a message listed at 10^12 bytes whose windows are always full: MESSAGE_TOO_LARGE, the next taken, quarantined at the 3rd poll', async () => {
      const uidValidity = 1_700_000_014;
      const raw = (uid: number, subject: string) => Buffer.from(simpleMessage({ subject, messageId: `c${uid}@acme.test` }));
      server = await startHostileImapServer({
        user: 'contracts@acme.test', password: 'c-pass', uidValidity,
        messages: [{ uid: 1, raw: raw(1, 'Endless'), listedSize: 1e12, fault: { kind: 'endless' } }, { uid: 2, raw: raw(2, 'Honest') }],
      });
      const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
      const cli = async (args: string[], input?: string) => {
        const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
        expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
        return r;
      };
      await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
      await cli(['tables', 'add', 'contracts']);
      await cli(['config', 'set', 'max_message_size', '4MB']);
      await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(server.port), '--security', 'none', '--auth', 'password',
        '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], 'c-pass');

      const key = `imap:${uidValidity}:1`;
      for (const attempt of [1, 2, 3]) {
        const run = await runMeasured(['daemon', '--once', '--timeout', '5s', '--json'], env, 30_000);
        const said = `${run.stdout}\n${run.stderr}`;
        expect(run.code, `poll ${attempt} did not end\n${said}`).not.toBe(-1);
        expect(run.peakRss, said).toBeLessThan(250 * 1024 * 1024);
        const poll = (run.account as unknown as { poll: Poll }).poll;
        if (attempt === 1) expect(poll).toMatchObject({ listed: 2, processed: 1 });
        if (attempt < 3) {
          expect(poll.failed.map((f) => [f.key, f.attempts]), said).toEqual([[key, attempt]]);
          expect(poll.failed[0]!.error).toMatch(/larger than max_message_size \(4MB\)/);
        } else {
          expect(poll.quarantined.map((q) => [q.key, q.attempts]), said).toEqual([[key, 3]]);
        }
      }
      // imapflow was never asked far past the cap: 4 MB is 16 windows of 256 KB.
      const comms = JSON.parse((await cli(['comms', 'list', '--json'])).stdout).communications as Comm[];
      const quarantined = comms.find((c) => c.mailboxKey === key);
      expect(quarantined?.disposition).toBe('quarantined');
      expect(quarantined!.size).toBeGreaterThan(0);
      expect(quarantined!.size).toBeLessThanOrEqual(keptAtMost);
    }, 120_000);
  });

  describe('Graph', () => {
    let oauth: OAuthServer;
    let graph: GraphFixture;
    let sent = 0;
    beforeAll(async () => {
      oauth = await startOAuth();
      graph = await startHostileGraph(oauth, async (req, res: ServerResponse, url) => {
        if (!/\/messages\/AAMkAD-endless=\/\$value$/.test(decodeURIComponent(url.pathname)) || req.method !== 'GET') return false;
        // No Content-Length: chunked, and never ended.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(simpleMessage({ from: 'lee@partner.test', subject: 'endless' }));
        const line = Buffer.from(`${'y'.repeat(1022)}\r\n`);
        const block = Buffer.concat(Array.from({ length: 256 }, () => line));
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += block.length;
          if (!res.write(block)) await drainedOrClosed(res);
        }
        return true;
      });
    }, 60_000);
    afterAll(async () => {
      await graph?.close();
      await oauth?.close();
    });

    it('a $value without Content-Length that never ends: stopped at 4 MB, its own failure, the later message taken', async () => {
      graph.messages.clear();
      graph.messages.set('AAMkAD-endless=', { raw: Buffer.from('unused'), isRead: false });
      graph.messages.set('AAMkAD-later=', { raw: Buffer.from(simpleMessage({ from: 'lee@partner.test', subject: 'later' })), isRead: false });
      const kb = await graphKb(tempDir(), oauth, graph.baseUrl);
      await kb.cli(['config', 'set', 'max_message_size', '4MB']);
      const run = await runMeasured(['daemon', '--once', '--timeout', '5s', '--json'], kb.env, 30_000);
      const said = `${run.stdout}\n${run.stderr}`;
      expect(run.code, `did not end\n${said}`).not.toBe(-1);
      const poll = (run.account as unknown as { poll: Poll }).poll;
      expect(poll, said).toMatchObject({ listed: 2, processed: 1 });
      expect(poll.failed.map((f) => [f.key, f.attempts])).toEqual([['graph:AAMkAD-endless=', 1]]);
      expect(poll.failed[0]!.error).toMatch(/larger than max_message_size \(4MB\)/);
      // The download was stopped: the server got to push the cap and what the sockets buffer, not its 64 MB.
      expect(sent, `server sent ${mb(sent)} MB`).toBeLessThan(24 * 1024 * 1024);
      expect([...graph.messages.keys()]).toEqual(['AAMkAD-endless=']);
    }, 90_000);
  });
});
