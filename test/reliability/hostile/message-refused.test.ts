import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphFixture } from '../../helpers/graph-fixture.js';
import { simpleMessage } from '../../helpers/messages.js';
import type { OAuthServer } from '../../helpers/oauth-server.js';
import { startPop3Server, writeAll, type Pop3TestServer } from '../../helpers/pop3-server.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { graphKb, startHostileGraph, startOAuth } from './graph-harness.js';

/**
 * Issue 14, per-message isolation, for POP3 and Graph: a server that refuses one message every
 * time (POP3 "-ERR" to its RETR; Graph 404 ErrorItemNotFound for its $value, as for an item
 * Exchange cannot render) while it lists it. The refusal is the server's answer about that one
 * message, so it counts against the message even in a poll where nothing else is taken: after
 * three polls it is quarantined, and the mailbox is clean. Before, each poll failed outright
 * (POP3: the whole poll, every poll), or the refusal counted only while other mail flowed, so a
 * mailbox with the one bad message failed for ever.
 */
interface Poll {
  listed: number;
  processed: number;
  alreadyTaken: number;
  dispositions: Record<string, number>;
  failed: Array<{ key: string; attempts: number; error: string }>;
  quarantined: Array<{ key: string; attempts: number; communicationId: number }>;
}

async function pollOnce(env: Record<string, string>): Promise<{ code: number; poll: Poll; status: string; stdout: string }> {
  const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  const account = JSON.parse(run.stdout).accounts[0] as { status: string; poll: Poll };
  return { code: run.code, poll: account.poll, status: account.status, stdout: run.stdout };
}

/** Three polls: the good mail taken in the first; the refused message counted at each, quarantined at the third; a fourth finds it done. */
async function expectQuarantinedAfterThree(env: Record<string, string>, badKey: string): Promise<void> {
  const first = await pollOnce(env);
  expect(first.status, first.stdout).toBe('ok');
  expect(first.poll).toMatchObject({ processed: 1 });
  expect(first.poll.failed.map((f) => [f.key, f.attempts])).toEqual([[badKey, 1]]);
  // Nothing else in the mailbox now: the refusal still counts (it is about this message).
  const second = await pollOnce(env);
  expect(second.status, second.stdout).toBe('ok');
  expect(second.poll.failed.map((f) => [f.key, f.attempts])).toEqual([[badKey, 2]]);
  const third = await pollOnce(env);
  expect(third.status, third.stdout).toBe('ok');
  expect(third.code).toBe(0);
  expect(third.poll.quarantined.map((q) => [q.key, q.attempts])).toEqual([[badKey, 3]]);
  const fourth = await pollOnce(env);
  expect(fourth.code, fourth.stdout).toBe(0);
  expect(fourth.poll).toMatchObject({ processed: 0, failed: [] });
  const comms = JSON.parse((await runCli(['comms', 'list', '--json'], { env })).stdout).communications as Array<{ mailboxKey: string; disposition: string; reason: string }>;
  expect(comms.find((c) => c.mailboxKey === badKey)).toMatchObject({ disposition: 'quarantined', reason: expect.stringMatching(/3 attempts/) });
}

describe('a server that refuses one message every time', () => {
  const tempDir = useTempDirs();
  let pop3: Pop3TestServer;
  let oauth: OAuthServer;
  let graph: GraphFixture;
  beforeAll(async () => {
    pop3 = await startPop3Server({
      'refuses@acme.test': { password: 'pw', messages: [
        { uidl: 'unreadable-1', raw: Buffer.from(simpleMessage({ subject: 'cannot be read' })), retr: async (socket) => { await writeAll(socket, '-ERR [SYS/PERM] Internal error occurred. Refer to server log for more information.\r\n'); } },
        { uidl: 'fine-1', raw: Buffer.from(simpleMessage({ subject: 'fine' })) },
      ] },
    });
    oauth = await startOAuth();
    graph = await startHostileGraph(oauth, async (req, res, url) => {
      if (req.method === 'GET' && /\/messages\/AAMkAD-broken-\d(%3D|=)\/\$value$/.test(url.pathname)) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'ErrorInternalServerError', message: 'An internal server error occurred. The operation failed.' } }));
        return true;
      }
      if (req.method !== 'GET' || !/\/messages\/AAMkAD-unrenderable%3D\/\$value$|\/messages\/AAMkAD-unrenderable=\/\$value$/.test(url.pathname)) return false;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' } }));
      return true;
    });
  }, 60_000);
  afterAll(async () => {
    await pop3?.close();
    await graph?.close();
    await oauth?.close();
  });

  it('POP3 "-ERR" to one RETR: the rest taken, the message quarantined at the third poll, never deleted', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], ['tables', 'add', 'contracts'], ['contacts', 'add', 'guest@acme.test', '--guest']]) {
      expect((await runCli(args, { env })).code).toBe(0);
    }
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(pop3.port), '--security', 'none',
      '--auth', 'password', '--username', 'refuses@acme.test', '--secret-stdin', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test',
      '--notes', 'new-text', '--after', 'delete', '--no-verify'], { env, input: 'pw' });
    expect(configured.code, configured.stderr).toBe(0);
    await expectQuarantinedAfterThree(env, 'pop3:unreadable-1');
    // Deleted: the good one only; the quarantined one stays (its bytes never arrived).
    expect(pop3.deleted('refuses@acme.test')).toEqual(['fine-1']);
  }, 120_000);

  it('Graph 404 for one $value: the rest taken, the message quarantined at the third poll', async () => {
    graph.messages.clear();
    graph.messages.set('AAMkAD-unrenderable=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'cannot be rendered' }), isRead: false });
    graph.messages.set('AAMkAD-fine=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'fine' }), isRead: false });
    const kb = await graphKb(tempDir(), oauth, graph.baseUrl, 'mark-read');
    await expectQuarantinedAfterThree(kb.env, 'graph:AAMkAD-unrenderable=');
  }, 120_000);

  it('Graph 500 for the three oldest messages every time, while the folder answers: quarantined at the third poll, the newer mail taken from the first', async () => {
    graph.messages.clear();
    for (let i = 1; i <= 3; i++) graph.messages.set(`AAMkAD-broken-${i}=`, { raw: simpleMessage({ from: 'lee@partner.test', subject: `broken ${i}` }), isRead: false });
    graph.messages.set('AAMkAD-newer=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'newer' }), isRead: false });
    const kb = await graphKb(tempDir(), oauth, graph.baseUrl, 'mark-read');
    const polls: Poll[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await pollOnce(kb.env);
      expect(run.status, run.stdout).toBe('ok');
      polls.push(run.poll);
    }
    expect(polls[0]).toMatchObject({ processed: 1 });
    expect(polls[0]!.failed.map((f) => f.attempts)).toEqual([1, 1, 1]);
    expect(polls[1]!.failed.map((f) => f.attempts)).toEqual([2, 2, 2]);
    expect(polls[2]!.quarantined.map((q) => q.attempts)).toEqual([3, 3, 3]);
  }, 120_000);
});
