import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { ingestAt } from '../store/store-fixture.js';
import { doctor, findingsOf, newKb, ok } from './doctor-helpers.js';

const day = 86_400_000;
/** A message the parser gives up on: mailctl keeps it, quarantined. */
const unparsable = (id: string) => `From: mallory@elsewhere.test\r\nSubject: ${'x'.repeat(3_000_000)}\r\nMessage-ID: <${id}>\r\n\r\nbody\r\n`;

describe('doctor --only inbound: quarantined mail is not invisible, and --only shows only that area', () => {
  const tempDir = useTempDirs();

  it('names what was quarantined in the last 7 days and not replayed, with the replay command; status counts it per account', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    await ok(env, ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', '1', '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], 'c-pass');

    const clean = await doctor(env, '--only', 'inbound', '--no-network');
    expect(findingsOf(clean, 'inbound.quarantined')).toEqual([]);
    expect(clean.passed.find((p) => p.check === 'inbound.quarantined')!.summary).toBe('no message quarantined (and not replayed) in the last 7 days');

    const now = Date.now();
    const [old, replayed, waiting, fine] = await ingestAt(home, [
      { raw: unparsable('old@elsewhere.test'), at: new Date(now - 8 * day) }, // before the window
      { raw: unparsable('replayed@elsewhere.test'), at: new Date(now - 2 * day) },
      { raw: unparsable('waiting@elsewhere.test'), at: new Date(now - day) },
      { raw: simpleMessage({ from: 'pat@acme.test', subject: 'Fine', messageId: 'fine@acme.test' }), at: new Date(now - day) },
    ]);
    const list = JSON.parse((await ok(env, ['comms', 'list', '--json'])).stdout).communications as Array<{ id: number; disposition: string }>;
    expect(list.filter((c) => [old, replayed, waiting].some((t) => t!.communicationId === c.id)).map((c) => c.disposition)).toEqual(['quarantined', 'quarantined', 'quarantined']);
    expect(list.find((c) => c.id === fine!.communicationId)!.disposition).toBe('record-created');
    // Replayed (here quarantined again): the original is dealt with, its replay is what waits.
    const replay = JSON.parse((await runCli(['comms', 'replay', String(replayed!.communicationId), '--json'], { env, timeoutMs: 60_000 })).stdout).communication as { id: number; disposition: string };
    expect(replay.disposition).toBe('quarantined');

    const report = await doctor(env, '--only', 'inbound', '--no-network');
    const [finding] = findingsOf(report, 'inbound.quarantined');
    expect(finding).toMatchObject({
      symptom: 'not-moving', severity: 'warning',
      title: '2 message(s) quarantined in the last 7 days and not replayed (2 in contracts)',
      command: 'mailctl comms list --disposition quarantined --since 7d',
    });
    expect(finding!.seen).toMatch(new RegExp(`^communication ${replay.id} from mallory@elsewhere\\.test, "x{59}…": the message could not be .*; communication ${waiting!.communicationId} from mallory@elsewhere\\.test, `));
    expect(finding!.seen).not.toContain(`communication ${replayed!.communicationId} `);
    expect(finding!.seen).not.toContain(`communication ${old!.communicationId} `);
    expect(finding!.fix).toContain(`after fixing the cause: mailctl comms replay ID (e.g. mailctl comms replay ${replay.id})`);

    // The human report of --only inbound: its own section only.
    const human = await runCli(['doctor', '--only', 'inbound', '--no-network'], { env, timeoutMs: 60_000 });
    expect(human.stdout).toContain('No emails are received or sent');
    expect(human.stdout).toContain('! warning 2 message(s) quarantined in the last 7 days and not replayed');
    expect(human.stdout).not.toContain('Configuration');
    expect(human.stdout).not.toContain('Stored messages');
    expect(human.stdout).not.toContain('OAuth');
    const store = await doctor(env, '--only', 'store', '--no-network');
    expect([...new Set([...store.findings, ...store.passed].map((x) => (x as { check: string }).check.split('.')[0]))]).toEqual(['store']);

    const status = await ok(env, ['status']);
    expect(status.stdout).toContain('⚠ 2 message(s) quarantined in the last 7 days, not replayed: mailctl comms list --disposition quarantined --since 7d');
    expect(JSON.parse((await ok(env, ['status', '--json'])).stdout).accounts[0]).toMatchObject({ table: 'contracts', quarantined: 2 });
  }, 60_000);
});
