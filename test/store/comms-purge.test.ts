import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CommunicationsRepo } from '../../src/store/communications-repo.js';
import { QueueRepo } from '../../src/store/queue-repo.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { doctor, findingsOf, newKb, ok } from '../doctor/doctor-helpers.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { blobExists, ingestAt, messageWith, openStores } from './store-fixture.js';

const dayMs = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * dayMs);

describe('mailctl comms purge: stored content past an age goes, the rows and notes stay', () => {
  const tempDir = useTempDirs();

  it('purges old raw messages, attachments and bodies; keeps rows, header blocks, notes, shared items and waiting outbound mail; --dry-run changes nothing and counts the same', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const contract = randomBytes(30_000); // attached to an old message and to a recent one: shared
    const oldOnly = randomBytes(20_000);
    const resent = simpleMessage({ from: 'pat@acme.test', subject: 'Sent twice', messageId: 'twice@acme.test', body: 'Same bytes twice.' });
    const [old, oldCopy, recent, , recentCopy] = await ingestAt(home, [
      { raw: messageWith({ from: 'pat@acme.test', subject: 'Old contract', messageId: 'old@acme.test', text: 'Please file this contract.', attachments: { 'msa.pdf': contract, 'annex.pdf': oldOnly } }), at: daysAgo(40) },
      { raw: resent, at: daysAgo(40) },
      { raw: messageWith({ from: 'pat@acme.test', subject: 'Recent contract', messageId: 'recent@acme.test', text: 'The same contract again.', attachments: { 'msa.pdf': contract } }), at: daysAgo(5) },
      { raw: messageWith({ from: 'pat@acme.test', subject: 'Recent note', messageId: 'recent-2@acme.test', text: 'Nothing attached.' }), at: daysAgo(1) },
      { raw: resent, at: daysAgo(2) }, // a true duplicate: its row points at the first and shares its raw bytes
    ]);
    expect(new Set([contract, oldOnly].map((b) => b.length))).toEqual(new Set([30_000, 20_000]));
    expect(recentCopy!.rawHash).toBe(oldCopy!.rawHash);

    // An outbound message queued 40 days ago and still waiting (held), its bytes in the store; and one long sent.
    const { db, store } = await openStores(home);
    const oldClock = { now: () => daysAgo(40) };
    const queue = new QueueRepo(db, oldClock);
    const comms = new CommunicationsRepo(db, oldClock);
    const putRaw = async (text: string) => {
      const batch = store.batch();
      const blob = await batch.put(Buffer.from(text));
      await batch.commit();
      return blob;
    };
    const held = queue.enqueue({ table: 'contracts', recordId: null, ruleId: null, from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Held', body: 'held body', attachments: [], contentHash: 'h1', status: 'queued' });
    queue.setStatus(held.id, 'held');
    const heldRaw = await putRaw('Subject: Held\r\n\r\nheld body, as it will be sent\r\n');
    comms.setRaw(held.communicationId!, heldRaw.hash, heldRaw.size, null);
    const sent = queue.enqueue({ table: 'contracts', recordId: null, ruleId: null, from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Sent', body: 'sent body', attachments: [], contentHash: 'h2', status: 'queued' });
    queue.setStatus(sent.id, 'sent');
    const sentRaw = await putRaw('Subject: Sent\r\n\r\nsent body, as it was sent\r\n');
    comms.setRaw(sent.communicationId!, sentRaw.hash, sentRaw.size, null);
    const snapshot = () => JSON.stringify([
      db.prepare('SELECT * FROM communications ORDER BY id').all(),
      db.prepare('SELECT * FROM communication_content ORDER BY communication_id').all(),
      db.prepare('SELECT * FROM communication_attachments ORDER BY communication_id, position').all(),
      db.prepare('SELECT * FROM record_notes ORDER BY id').all(),
    ]);
    const before = snapshot();
    const oldRecord = comms.get(old!.communicationId)!.recordId!;
    const notesBefore = new RecordsRepo(db, oldClock).notes(oldRecord);
    expect(notesBefore).toHaveLength(1);
    const everyBlob = [old!.rawHash, ...old!.attachments, oldCopy!.rawHash, recent!.rawHash, heldRaw.hash, sentRaw.hash];
    expect(everyBlob.every((h) => blobExists(home, h))).toBe(true);

    // Without --older-than and with message_retention "forever", there is nothing to go by.
    const none = await runCli(['comms', 'purge'], { env });
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toContain('message_retention is "forever" and --older-than was not given');
    expect((await runCli(['comms', 'purge', '--older-than', '12h'], { env })).code).toBe(2);

    const dry = JSON.parse((await ok(env, ['comms', 'purge', '--older-than', '30d', '--dry-run', '--json'])).stdout);
    expect(snapshot()).toBe(before);
    expect(everyBlob.every((h) => blobExists(home, h))).toBe(true);
    // The old message, the first of the pair sent twice, the sent outbound; not the held one.
    expect(dry).toMatchObject({ ok: true, dryRun: true, communications: 3, blobs: 3, shared: 2, waitingOutbound: 1, reserved: 0, complete: true });
    expect(dry.blobBytes).toBeGreaterThan(20_000); // the random annex does not compress
    expect(dry.bodyBytes).toBeGreaterThan(0);
    const human = await ok(env, ['comms', 'purge', '--older-than', '30d', '--dry-run']);
    expect(human.stdout).toContain('would purge the content of 3 communication(s): 3 stored item(s)');
    expect(human.stdout).toContain('2 stored item(s) kept: a newer communication refers to them too');
    expect(human.stdout).toContain('1 outbound message(s) still waiting in the queue kept whole');
    expect(human.stdout).toContain('Nothing was changed (--dry-run).');

    const real = JSON.parse((await ok(env, ['comms', 'purge', '--older-than', '30d', '--json'])).stdout);
    expect({ ...real, dryRun: true, before: dry.before }).toEqual(dry);

    // Rows, header blocks, attachment lists and notes stay; each purged row says when and why.
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    expect(count('SELECT count(*) AS n FROM communications')).toBe(7);
    const purged = db.prepare('SELECT id, content_purged_at AS at, content_purge_reason AS reason FROM communications WHERE content_purged_at IS NOT NULL ORDER BY id').all() as Array<{ id: number; at: string; reason: string }>;
    expect(purged.map((p) => p.id)).toEqual([old!.communicationId, oldCopy!.communicationId, sent.communicationId!].sort((a, b) => a - b));
    expect(purged.every((p) => p.reason === 'comms purge --older-than 30d' && Math.abs(Date.parse(p.at) - Date.now()) < 60_000)).toBe(true);
    const content = comms.content(old!.communicationId)!;
    expect(content).toMatchObject({ text: null, html: null });
    expect(content.headers).toContain('Subject: Old contract');
    expect(comms.attachments(old!.communicationId).map((a) => a.filename)).toEqual(['msa.pdf', 'annex.pdf']);
    expect(new RecordsRepo(db, oldClock).notes(oldRecord)).toEqual(notesBefore);
    expect(comms.content(recent!.communicationId)).toMatchObject({ text: 'The same contract again.' });

    // The bytes: gone where nothing that stays refers to them; kept where something does.
    expect(blobExists(home, old!.rawHash)).toBe(false);
    expect(blobExists(home, old!.attachments[1]!)).toBe(false); // the annex, only in the old message
    expect(blobExists(home, sentRaw.hash)).toBe(false);
    expect(blobExists(home, old!.attachments[0]!)).toBe(true); // the contract, attached again 5 days ago
    expect(blobExists(home, oldCopy!.rawHash)).toBe(true); // the duplicate of 2 days ago shares it
    expect(blobExists(home, recent!.rawHash)).toBe(true);
    expect(blobExists(home, heldRaw.hash)).toBe(true); // held: it may still be sent
    expect(comms.get(held.communicationId!)!.contentPurgedAt).toBeNull();

    // Nothing left to purge; and the stores agree with the rows: nothing missing, nothing to collect.
    expect(JSON.parse((await ok(env, ['comms', 'purge', '--older-than', '30d', '--json'])).stdout)).toMatchObject({ communications: 0, blobs: 0 });
    expect(findingsOf(await doctor(env, '--only', 'store', '--verify-store'), 'store.content')).toEqual([]);
    expect(JSON.parse((await ok(env, ['store', 'gc', '--json'])).stdout)).toMatchObject({ removed: 0 });

    // With message_retention set, `comms purge` uses it and says so.
    await ok(env, ['config', 'set', 'message_retention', '3d']);
    const byRetention = JSON.parse((await ok(env, ['comms', 'purge', '--json'])).stdout);
    expect(byRetention).toMatchObject({ reason: 'comms purge (message_retention 3d)', communications: 1 });
    expect(blobExists(home, recent!.rawHash)).toBe(false);
    expect(blobExists(home, old!.attachments[0]!)).toBe(false); // its last reference is gone now
    expect(blobExists(home, oldCopy!.rawHash)).toBe(true);
    db.close();
  }, 90_000);
});
