import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/config/paths.js';
import { newKb, ok } from '../doctor/doctor-helpers.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { blobExists, ingestAt, openStores } from './store-fixture.js';

describe('mailctl store gc', () => {
  const tempDir = useTempDirs();

  it('removes an orphan and a dead process\'s temporary file; keeps a referenced item and one a live writer may still commit', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const [taken] = await ingestAt(home, [{ raw: simpleMessage({ from: 'pat@acme.test', subject: 'Kept', messageId: 'kept@acme.test' }), at: new Date() }]);

    const { db, store } = await openStores(home);
    const put = async (text: string) => {
      const batch = store.batch();
      const blob = await batch.put(Buffer.from(text));
      await batch.commit();
      return blob.hash;
    };
    // An orphan: stored an hour ago by a run that crashed before its rows committed.
    const orphan = await put('From: x@y.test\r\n\r\nan orphan left by a crash\r\n'.repeat(50));
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(store.location, 'objects', orphan.slice(0, 2), `${orphan}.gz`), anHourAgo, anHourAgo);
    // A live writer (another process on this host) has reserved an item it stored: it is about to commit rows that refer to it.
    const writer = spawn('sleep', ['60'], { stdio: 'ignore' });
    const inFlight = await put('From: x@y.test\r\n\r\nbeing taken right now\r\n');
    db.prepare('INSERT INTO store_reservations (hash, host, pid, reserved_at) VALUES (?, ?, ?, ?)').run(inFlight, hostname(), writer.pid, new Date().toISOString());
    // A temporary file of a process that is gone.
    const gone = spawnSync('true').pid;
    const tmp = join(resolvePaths({ MAILCTL_HOME: home }).messageStoreDir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, `${gone}-1-deadbeef`), 'half a message');
    db.close();

    try {
      const dry = JSON.parse((await ok(env, ['store', 'gc', '--dry-run', '--json'])).stdout);
      expect(dry).toMatchObject({ ok: true, dryRun: true, removed: 1, reserved: 1, temporaries: 1 });
      expect(blobExists(home, orphan)).toBe(true);
      expect(existsSync(join(tmp, `${gone}-1-deadbeef`))).toBe(true);

      const human = await ok(env, ['store', 'gc']);
      expect(human.stdout).toMatch(/removed 1 stored item\(s\) no communication refers to \([\d.]+ (bytes|KB) on disk\) and 1 temporary file\(s\) of processes that are gone/);
      expect(human.stdout).toContain('1 unreferenced item(s) left: a running mailctl is committing a message that refers to them');
      expect(blobExists(home, orphan)).toBe(false);
      expect(existsSync(join(tmp, `${gone}-1-deadbeef`))).toBe(false);
      expect(blobExists(home, taken!.rawHash)).toBe(true);
      expect(blobExists(home, inFlight)).toBe(true);
    } finally {
      writer.kill();
    }
    await new Promise((resolve) => writer.once('exit', resolve));
    // The writer is gone without committing: what it stored is an orphan now, its reservation void.
    expect(JSON.parse((await ok(env, ['store', 'gc', '--json'])).stdout)).toMatchObject({ removed: 1, reserved: 0 });
    expect(blobExists(home, inFlight)).toBe(false);
    expect(blobExists(home, taken!.rawHash)).toBe(true);
  }, 60_000);
});
