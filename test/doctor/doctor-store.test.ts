import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { blobPath, ingestAt } from '../store/store-fixture.js';
import { doctor, findingsOf, newKb, ok } from './doctor-helpers.js';

describe('doctor --only store: the message store\'s disk, and every communication\'s content there and intact', () => {
  const tempDir = useTempDirs();
  const mounts: string[] = [];
  afterEach(() => {
    for (const dir of mounts.splice(0)) execFileSync('umount', [dir]);
  });

  it('names the communications whose stored content is missing or corrupt; a healthy store passes and says how much it verified', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const pdf = randomBytes(5000);
    const withPdf = ['From: pat@acme.test', 'To: contracts@acme.test', 'Subject: With a PDF', 'Message-ID: <pdf@acme.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'See the contract.', '--b', 'Content-Type: application/pdf; name="msa.pdf"', 'Content-Disposition: attachment; filename="msa.pdf"',
      'Content-Transfer-Encoding: base64', '', pdf.toString('base64'), '--b--', ''].join('\r\n');
    const [plain, attached, intact] = await ingestAt(home, [
      { raw: simpleMessage({ from: 'pat@acme.test', subject: 'Plain', messageId: 'plain@acme.test' }), at: new Date() },
      { raw: withPdf, at: new Date() },
      { raw: simpleMessage({ from: 'pat@acme.test', subject: 'Intact', messageId: 'intact@acme.test' }), at: new Date() },
    ]);

    // status: what the store takes on disk, each blob once (walked, not summed from rows).
    const files = [plain!.rawHash, attached!.rawHash, attached!.attachments[0]!, intact!.rawHash].map((h) => statSync(blobPath(home, h)).blocks * 512); // on disk: allocated blocks, as du counts
    const status = JSON.parse((await ok(env, ['status', '--json'])).stdout);
    expect(status.store).toMatchObject({ blobs: 4, bytes: files.reduce((a, b) => a + b, 0), exact: true, location: join(home, 'messages') });
    expect(status.store.filesystem.total).toBeGreaterThan(status.store.filesystem.free);
    expect((await ok(env, ['status'])).stdout).toMatch(/\nstore {4}4 stored item\(s\), [\d.]+ KB on disk in .*messages; disk [\d.]+ [KMGT]B free of [\d.]+ [KMGT]B \(\d+% used\)\n/);

    const healthy = await doctor(env, '--only', 'store');
    expect(findingsOf(healthy, 'store.content')).toEqual([]);
    expect(healthy.passed.find((p) => p.check === 'store.content')!.summary).toMatch(/^all 4 stored item\(s\) communications refer to are in .*; 4 of 4 read back and verified by hash \(the newest 256 MB; --verify-store reads all\)$/);

    copyFileSync(blobPath(home, intact!.rawHash), join(home, 'intact.gz'));
    copyFileSync(blobPath(home, attached!.attachments[0]!), join(home, 'pdf.gz'));
    unlinkSync(blobPath(home, plain!.rawHash)); // deleted by hand
    writeFileSync(blobPath(home, attached!.attachments[0]!), gzipSync(Buffer.from('not the contract'))); // replaced: a valid gzip file, other bytes
    const report = await doctor(env, '--only', 'store');
    expect(report.ok).toBe(false);
    const [missing, corrupt] = findingsOf(report, 'store.content');
    expect(missing).toMatchObject({ severity: 'error', symptom: 'store', title: '1 communication(s) refer to stored content that is missing (1 item(s))', command: `mailctl comms show ${plain!.communicationId}` });
    expect(missing!.seen).toBe(`communication ${plain!.communicationId}: the raw message (${plain!.rawHash.slice(0, 12)}…)`);
    expect(missing!.fix).toMatch(/^Restore .* store gc removes what nothing refers to\)\.$/); // not how much was verified: that is about the items that are there
    expect(corrupt).toMatchObject({ severity: 'error', title: '1 communication(s) refer to stored content that is corrupt (1 item(s))', command: 'mailctl doctor --only store --verify-store' });
    const actual = createHash('sha256').update('not the contract').digest('hex');
    expect(corrupt!.seen).toBe(`communication ${attached!.communicationId}: attachment 1 "msa.pdf" (${attached!.attachments[0]!.slice(0, 12)}…, it hashes to ${actual})`);
    expect(JSON.stringify(report.findings)).not.toContain(`communication ${intact!.communicationId}:`);

    // --verify-store reads back everything; a damaged gzip stream is corrupt too, never a crash.
    writeFileSync(blobPath(home, intact!.rawHash), Buffer.from('garbage, not gzip'));
    const full = await doctor(env, '--only', 'store', '--verify-store');
    const corruptAll = findingsOf(full, 'store.content').find((f) => f.title.includes('corrupt'))!;
    expect(corruptAll.title).toBe('2 communication(s) refer to stored content that is corrupt (2 item(s))');
    expect(corruptAll.seen).toContain(`communication ${intact!.communicationId}: the raw message (${intact!.rawHash.slice(0, 12)}…, it cannot be decompressed (`);
    expect(JSON.stringify(full.findings)).not.toContain('hashes to unreadable');

    // Only missing content: the rest is there and verified, said as a pass beside the finding.
    writeFileSync(blobPath(home, intact!.rawHash), readFileSync(join(home, 'intact.gz')));
    writeFileSync(blobPath(home, attached!.attachments[0]!), readFileSync(join(home, 'pdf.gz')));
    const onlyMissing = await doctor(env, '--only', 'store', '--verify-store');
    expect(findingsOf(onlyMissing, 'store.content').map((f) => f.title)).toEqual(['1 communication(s) refer to stored content that is missing (1 item(s))']);
    expect(onlyMissing.passed.find((p) => p.check === 'store.content')!.summary).toBe('the other 3 stored item(s) are there, none corrupt: all 3 read back and verified by hash');
    expect(corruptAll.fix).toContain('Every stored item was verified.');

  }, 60_000);

  it('warns when the store\'s filesystem is over 90 % full (a 2 MB tmpfs as the data directory)', async () => {
    const home = join(tempDir(), 'small');
    mkdirSync(home);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', home]);
    mounts.push(home);
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const roomy = await doctor(env, '--only', 'store');
    expect(findingsOf(roomy, 'store.disk-space')).toEqual([]);
    expect(roomy.passed.find((p) => p.check === 'store.disk-space')!.summary).toMatch(/^the message store's filesystem is \d+% full \([\d.]+ (KB|MB) free of 2\.0 MB; /);

    // Fill it to about 93 % (the database grows a little as doctor and status run).
    const fs = statfsSync(home);
    const fill = Math.floor(fs.blocks * fs.bsize * 0.93) - (fs.blocks - fs.bavail) * fs.bsize;
    writeFileSync(join(home, 'filler'), Buffer.alloc(fill));
    try {
      const report = await doctor(env, '--only', 'store');
      const [finding] = findingsOf(report, 'store.disk-space');
      expect(finding).toMatchObject({ severity: 'warning', symptom: 'store', command: 'mailctl comms purge --older-than 365d --dry-run' });
      expect(finding!.title).toMatch(/^The message store's filesystem is 9[3-8]% full$/);
      expect(finding!.seen).toContain(`on the filesystem of ${join(home, 'messages')}`);
      const status = await ok(env, ['status']);
      expect(status.stdout).toMatch(/store {4}0 stored item\(s\), 0 bytes on disk in .*; disk [\d.]+ KB free of 2\.0 MB \(9\d% used\)/);
    } finally {
      rmSync(join(home, 'filler'));
    }
  }, 60_000);
});
