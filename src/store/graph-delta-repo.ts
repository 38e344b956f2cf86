import type { Clock } from '../clock.js';
import type { CarriedMessage, ChangeListingState } from '../inbound/mail-source.js';
import type { Database } from './database.js';

/**
 * Each Graph account's place in its delta query (graph_delta) and the messages listed but not
 * yet done (graph_delta_carried), as ChangeListingState. A save is one transaction: the link
 * moves on together with the messages it listed, so a crash never leaves a link past mail
 * that is neither taken nor carried.
 */
export class GraphDeltaRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  /** The state of one account (its inbound table name). */
  forAccount(account: string): ChangeListingState {
    return {
      load: (scope) => this.#load(account, scope),
      save: (scope, link, listed, removed) => this.#save(account, scope, link, listed, removed),
      settle: (key) => {
        this.db.prepare('DELETE FROM graph_delta_carried WHERE account = ? AND mailbox_key = ?').run(account, key);
      },
    };
  }

  #load(account: string, scope: string): { link: string | null; carried: CarriedMessage[] } {
    const place = this.db.prepare('SELECT scope, link FROM graph_delta WHERE account = ?').get(account) as { scope: string; link: string | null } | undefined;
    if (!place || place.scope !== scope) return { link: null, carried: [] };
    const rows = this.db.prepare('SELECT mailbox_key AS key, received_at AS receivedAt, seen FROM graph_delta_carried WHERE account = ?').all(account) as Array<{ key: string; receivedAt: string | null; seen: number | null }>;
    return { link: place.link, carried: rows.map((r) => ({ key: r.key, receivedAt: r.receivedAt, seen: r.seen === null ? null : r.seen === 1 })) };
  }

  #save(account: string, scope: string, link: string | null, listed: CarriedMessage[], removed: string[]): void {
    this.db.transaction(() => {
      const before = this.db.prepare('SELECT scope FROM graph_delta WHERE account = ?').get(account) as { scope: string } | undefined;
      // Messages carried for another mailbox or folder are not this account's to take any more.
      if (before && before.scope !== scope) this.db.prepare('DELETE FROM graph_delta_carried WHERE account = ?').run(account);
      this.db.prepare(`INSERT INTO graph_delta (account, scope, link, saved_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(account) DO UPDATE SET scope = excluded.scope, link = excluded.link, saved_at = excluded.saved_at`).run(account, scope, link, this.clock.now().toISOString());
      const carry = this.db.prepare(`INSERT INTO graph_delta_carried (account, mailbox_key, received_at, seen) VALUES (?, ?, ?, ?)
        ON CONFLICT(account, mailbox_key) DO UPDATE SET received_at = COALESCE(excluded.received_at, received_at), seen = excluded.seen`);
      for (const m of listed) carry.run(account, m.key, m.receivedAt, m.seen === null ? null : m.seen ? 1 : 0);
      const drop = this.db.prepare('DELETE FROM graph_delta_carried WHERE account = ? AND mailbox_key = ?');
      for (const key of removed) drop.run(account, key);
    })();
  }
}
