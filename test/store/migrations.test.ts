import { join } from 'node:path';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations.js';
import { ContactsRepo } from '../../src/store/contacts-repo.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { systemClock } from '../../src/clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const latest = Math.max(...migrations.map((m) => m.version));

describe('database migrations', () => {
  const tempDir = useTempDirs();

  it('builds the whole schema on an empty database, in WAL mode, file mode 0600', async () => {
    const path = join(tempDir(), 'mailctl.db');
    const db = await openDatabase(path);
    expect(schemaVersion(db)).toBe(latest);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    for (const table of ['tables', 'records', 'record_notes', 'contacts', 'contact_permissions', 'communications', 'outbound_queue', 'outbound_attempts', 'inbound_sync', 'audit_log']) {
      expect(tables).toContain(table);
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);
    db.close();
  });

  it('upgrades an existing database and keeps its rows', async () => {
    const path = join(tempDir(), 'mailctl.db');
    const old = await openDatabase(path, { upTo: 1 });
    expect(schemaVersion(old)).toBe(1);
    new TablesRepo(old, systemClock).add('contracts');
    new ContactsRepo(old, systemClock).add({ email: 'pat@acme.test', name: 'Pat', canCreateIn: ['contracts'] });
    // A row as version 1 had it (today's repository reads columns added since).
    const record = { id: Number(old.prepare("INSERT INTO records (table_name, title, status, created_by, updated_by, created_at, updated_at) VALUES ('contracts', 'MSA renewal', 'open', 'pat@acme.test', 'pat@acme.test', '2026-11-27T10:00:00.000Z', '2026-11-27T10:00:00.000Z')").run().lastInsertRowid) };
    old.close();

    const db = await openDatabase(path);
    expect(schemaVersion(db)).toBe(latest);
    expect(new RecordsRepo(db, systemClock).get(record.id)?.title).toBe('MSA renewal');
    expect(new ContactsRepo(db, systemClock).findByEmail('PAT@acme.test')?.canCreateIn).toEqual(['contracts']);
    // Running again applies nothing.
    expect(migrate(db, migrations)).toEqual([]);
    db.close();
  });

  it('refuses a database newer than this mailctl', async () => {
    const path = join(tempDir(), 'mailctl.db');
    const db = await openDatabase(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(latest + 1, 'future', new Date().toISOString());
    db.close();
    await expect(openDatabase(path)).rejects.toMatchObject({ code: 'E_DB_NEWER' });
  });

  it('rolls back a failing migration whole', async () => {
    const path = join(tempDir(), 'mailctl.db');
    const broken = [...migrations, { version: latest + 1, name: 'broken', sql: 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);' }];
    await expect(openDatabase(path, { migrations: broken })).rejects.toThrow(/nowhere/);
    const db = await openDatabase(path);
    expect(schemaVersion(db)).toBe(latest);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('keeps additional notes append-only and sets "updated by"', async () => {
    const db = await openDatabase(join(tempDir(), 'mailctl.db'));
    new TablesRepo(db, systemClock).add('support_cases');
    const records = new RecordsRepo(db, systemClock);
    const record = records.create({ table: 'support_cases', title: 'Printer', createdBy: 'pat@acme.test' });
    records.appendNote(record.id, { author: 'lee@partner.test', body: 'first reply' });
    records.appendNote(record.id, { author: 'pat@acme.test', body: 'second reply' });
    expect(records.notes(record.id).map((n) => n.body)).toEqual(['first reply', 'second reply']);
    expect(records.get(record.id)?.updatedBy).toBe('pat@acme.test');
    db.close();
  });
});
