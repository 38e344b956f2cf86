/** One schema step. Never edit a released migration: add a new one. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema, in order. SQL stays behind the repositories so that a PostgreSQL store
 * can follow (DESIGN.md); "claim the next due message" and "claim this mailbox" are
 * explicit repository operations, not ad-hoc queries.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tables, contacts, records',
    sql: `
      CREATE TABLE tables (
        name        TEXT PRIMARY KEY,
        label       TEXT NOT NULL,
        created_at  TEXT NOT NULL
      ) STRICT;

      CREATE TABLE contacts (
        id          INTEGER PRIMARY KEY,
        email       TEXT NOT NULL COLLATE NOCASE UNIQUE,
        name        TEXT NOT NULL,
        is_guest    INTEGER NOT NULL DEFAULT 0 CHECK (is_guest IN (0, 1)),
        created_at  TEXT NOT NULL
      ) STRICT;

      -- The tables in which a contact may create records by email.
      CREATE TABLE contact_permissions (
        contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        table_name  TEXT NOT NULL REFERENCES tables(name) ON DELETE CASCADE,
        PRIMARY KEY (contact_id, table_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE records (
        id          INTEGER PRIMARY KEY,
        table_name  TEXT NOT NULL REFERENCES tables(name),
        title       TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'open',
        created_by  TEXT NOT NULL,
        updated_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      ) STRICT;
      CREATE INDEX records_by_table ON records(table_name, id);

      -- "Additional notes" is append-only: one row per addition, never updated.
      CREATE TABLE record_notes (
        id                INTEGER PRIMARY KEY,
        record_id         INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        author            TEXT NOT NULL,
        body              TEXT NOT NULL,
        communication_id  INTEGER,
        added_at          TEXT NOT NULL
      ) STRICT;
      CREATE INDEX record_notes_by_record ON record_notes(record_id, id);
    `,
  },
  {
    version: 2,
    name: 'communications, outbound queue, inbound sync state, audit log',
    sql: `
      CREATE TABLE communications (
        id            INTEGER PRIMARY KEY,
        direction     TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        account       TEXT,
        table_name    TEXT,
        record_id     INTEGER REFERENCES records(id),
        -- Where the message came from in its mailbox ("imap:<uidvalidity>:<uid>", "pop3:<uidl>", "graph:<id>").
        mailbox_key   TEXT,
        message_id    TEXT,
        content_hash  TEXT,
        from_addr     TEXT,
        to_addrs      TEXT,
        subject       TEXT,
        disposition   TEXT NOT NULL,
        reason        TEXT,
        size_bytes    INTEGER,
        created_at    TEXT NOT NULL
      ) STRICT;
      -- A message is taken once per account: the same mailbox id, or the same Message-ID.
      CREATE UNIQUE INDEX communications_mailbox_once ON communications(account, mailbox_key) WHERE mailbox_key IS NOT NULL;
      CREATE UNIQUE INDEX communications_message_once ON communications(account, message_id) WHERE direction = 'inbound' AND message_id IS NOT NULL;
      CREATE INDEX communications_by_record ON communications(table_name, record_id);

      CREATE TABLE outbound_queue (
        id                INTEGER PRIMARY KEY,
        communication_id  INTEGER REFERENCES communications(id),
        status            TEXT NOT NULL CHECK (status IN ('queued', 'deferred', 'sending', 'sent', 'failed', 'abandoned', 'duplicate', 'held')),
        table_name        TEXT,
        record_id         INTEGER,
        rule_id           TEXT,
        from_addr         TEXT NOT NULL,
        to_addrs          TEXT NOT NULL,
        subject           TEXT NOT NULL,
        body              TEXT NOT NULL,
        attachments_json  TEXT NOT NULL DEFAULT '[]',
        content_hash      TEXT NOT NULL,
        attempts          INTEGER NOT NULL DEFAULT 0,
        first_failure_at  TEXT,
        next_attempt_at   TEXT NOT NULL,
        last_error        TEXT,
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL
      ) STRICT;
      -- The scheduler's question "what is due now?" must stay an index range scan at 1M rows.
      CREATE INDEX outbound_queue_due ON outbound_queue(next_attempt_at) WHERE status IN ('queued', 'deferred');
      CREATE INDEX outbound_queue_by_status ON outbound_queue(status, id);
      CREATE INDEX outbound_queue_duplicates ON outbound_queue(rule_id, record_id, to_addrs, content_hash, created_at);

      CREATE TABLE outbound_attempts (
        id          INTEGER PRIMARY KEY,
        queue_id    INTEGER NOT NULL REFERENCES outbound_queue(id) ON DELETE CASCADE,
        at          TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        response    TEXT
      ) STRICT;
      CREATE INDEX outbound_attempts_by_queue ON outbound_attempts(queue_id, id);

      CREATE TABLE inbound_sync (
        account       TEXT NOT NULL,
        mailbox       TEXT NOT NULL,
        uidvalidity   TEXT,
        last_uid      INTEGER,
        last_poll_at  TEXT,
        last_sweep_at TEXT,
        last_error    TEXT,
        lease_owner   TEXT,
        lease_until   TEXT,
        PRIMARY KEY (account, mailbox)
      ) STRICT;

      CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT,
        details   TEXT
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'inbound dedupe by content hash, poll back-off, daemon heartbeat',
    sql: `
      -- A message without a Message-ID is recognised by the hash of its bytes.
      CREATE UNIQUE INDEX communications_hash_once ON communications(account, content_hash) WHERE direction = 'inbound' AND message_id IS NULL AND content_hash IS NOT NULL;
      ALTER TABLE inbound_sync ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE inbound_sync ADD COLUMN next_poll_at TEXT;
      ALTER TABLE inbound_sync ADD COLUMN last_ok_at TEXT;
      CREATE TABLE daemon_state (
        kb           TEXT PRIMARY KEY,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];
