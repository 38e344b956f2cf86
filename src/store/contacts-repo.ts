import { UsageError } from '../errors.js';
import { isEmailAddress } from '../config/globals.js';
import type { Clock } from '../clock.js';
import { cachedStatement, type Database } from './database.js';

export interface Contact {
  id: number;
  email: string;
  name: string;
  isGuest: boolean;
  /** Tables in which this contact may create records by email. */
  canCreateIn: string[];
  createdAt: string;
}

interface ContactRow { id: number; email: string; name: string; is_guest: number; created_at: string; tables: string | null }

/** Known people: who may create records by email, and guest accounts for strangers. */
export class ContactsRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  add(input: { email: string; name: string; isGuest?: boolean; canCreateIn?: string[] }): Contact {
    const email = input.email.trim();
    if (!isEmailAddress(email)) throw new UsageError('E_CONTACT_EMAIL', `"${input.email}" is not an email address.`);
    if (this.findByEmail(email)) throw new UsageError('E_CONTACT_EXISTS', `A contact with the address ${email} already exists.`);
    const tables = [...new Set(input.canCreateIn ?? [])];
    for (const table of tables) {
      if (!cachedStatement(this.db, 'SELECT 1 FROM tables WHERE name = ?').get(table)) {
        throw new UsageError('E_TABLE_UNKNOWN', `There is no table "${table}".`, { command: `mailctl tables add ${table}` });
      }
    }
    const id = this.db.transaction(() => {
      const result = cachedStatement(this.db, 'INSERT INTO contacts (email, name, is_guest, created_at) VALUES (?, ?, ?, ?)')
        .run(email, input.name.trim() || email, input.isGuest ? 1 : 0, this.clock.now().toISOString());
      const contactId = Number(result.lastInsertRowid);
      const grant = cachedStatement(this.db, 'INSERT INTO contact_permissions (contact_id, table_name) VALUES (?, ?)');
      for (const table of tables) grant.run(contactId, table);
      return contactId;
    })();
    return this.get(id)!;
  }

  get(id: number): Contact | undefined {
    return this.query('WHERE c.id = ?', id)[0];
  }

  findByEmail(email: string): Contact | undefined {
    return this.query('WHERE c.email = ?', email.trim())[0];
  }

  list(): Contact[] {
    return this.query('');
  }

  private query(where: string, ...params: unknown[]): Contact[] {
    const rows = cachedStatement(this.db, `
      SELECT c.id, c.email, c.name, c.is_guest, c.created_at, group_concat(p.table_name, ',') AS tables
      FROM contacts c LEFT JOIN contact_permissions p ON p.contact_id = c.id
      ${where} GROUP BY c.id ORDER BY c.email`).all(...params) as ContactRow[];
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      isGuest: r.is_guest === 1,
      canCreateIn: r.tables ? r.tables.split(',').sort() : [],
      createdAt: r.created_at,
    }));
  }
}
