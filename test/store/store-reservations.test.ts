import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { readStored } from '../../src/store/message-store.js';
import { purgeContent } from '../../src/store/purge-content.js';
import { collectGarbage } from '../../src/store/store-gc.js';
import { commitReserved, StoreReservations } from '../../src/store/store-reservations.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * A writer that deduplicates into a blob nothing refers to yet (the same PDF as in a purged
 * message) races a gc or purge that finds the blob unreferenced. Both orders must end with the
 * blob in the store once the writer's rows commit (found by a hostile review: the daemon's new
 * message lost its attachment while a purge ran, and the mail was deleted from the server).
 */
describe('store reservations: gc and purge never delete a blob a writer is about to refer to', () => {
  const tempDir = useTempDirs();
  const pdf = Buffer.from('%PDF-1.7 the same contract, sent again\n'.repeat(100));

  async function setup() {
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const store = new FsMessageStore(join(dir, 'messages'));
    // The blob is there, unreferenced: the communication that had it was purged.
    const first = store.batch();
    const blob = await first.put(pdf);
    await first.commit();
    return { db, store, hash: blob.hash };
  }

  it('gc runs between the writer reserving and placing its blobs: the blob is kept', async () => {
    const { db, store, hash } = await setup();
    const batch = store.batch();
    await batch.put(pdf);
    let gcDuring: Awaited<ReturnType<typeof collectGarbage>> | undefined;
    await batch.commit(async (hashes) => {
      new StoreReservations(db).reserve(hashes);
      gcDuring = await collectGarbage(db, store); // the other process's gc, at the worst moment
    });
    expect(gcDuring).toMatchObject({ removed: 0, reserved: 1 });
    expect((await readStored(store, hash)).equals(pdf)).toBe(true);
  });

  it('gc deletes the blob just before the writer reserves: the writer puts its own copy in place', async () => {
    const { db, store, hash } = await setup();
    const batch = store.batch();
    await batch.put(pdf);
    expect(await collectGarbage(db, store)).toMatchObject({ removed: 1 });
    expect(await store.has(hash)).toBe(false);
    const { release } = await commitReserved(db, batch);
    expect((await readStored(store, hash)).equals(pdf)).toBe(true);
    release();
    expect(new StoreReservations(db).isReserved(hash)).toBe(false);
  });

  it('a purge whose group was planned before the reservation does not delete the reserved blob', async () => {
    const { db, store, hash } = await setup();
    // An old communication that refers to the blob, due for purging.
    db.prepare(`INSERT INTO communications (direction, account, table_name, disposition, created_at, raw_hash, content_hash)
      VALUES ('inbound', 'contracts', 'contracts', 'ignored', '2020-01-01T00:00:00.000Z', ?, ?)`).run(hash, hash);
    const batch = store.batch();
    await batch.put(pdf);
    let purged: Awaited<ReturnType<typeof purgeContent>> | undefined;
    await batch.commit(async (hashes) => {
      new StoreReservations(db).reserve(hashes);
      purged = await purgeContent(db, store, { before: new Date('2021-01-01'), reason: 'test', now: new Date() });
    });
    expect(purged).toMatchObject({ communications: 1, blobs: 0, reserved: 1 });
    expect((await readStored(store, hash)).equals(pdf)).toBe(true);
  });

  it('reservations of a writer that died are cleared by gc, and its blobs become orphans', async () => {
    const { db, store, hash } = await setup();
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync('true').pid;
    const { hostname } = await import('node:os');
    db.prepare('INSERT INTO store_reservations (hash, host, pid, reserved_at) VALUES (?, ?, ?, ?)').run(hash, hostname(), dead, new Date().toISOString());
    expect(new StoreReservations(db).isReserved(hash)).toBe(false);
    expect(await collectGarbage(db, store)).toMatchObject({ removed: 1, reserved: 0 });
    expect((db.prepare('SELECT count(*) AS n FROM store_reservations').get() as { n: number }).n).toBe(0);
  });
});
