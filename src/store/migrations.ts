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
  {
    version: 4,
    name: 'the message store: raw messages, parsed content, attachments, duplicates, replays, retention',
    sql: `
      -- A message that reuses a Message-ID is a message of its own; a true duplicate gets its
      -- own row (disposition 'duplicate', duplicate_of). So these are lookups, not constraints.
      DROP INDEX communications_message_once;
      DROP INDEX communications_hash_once;
      CREATE INDEX communications_by_message_id ON communications(account, message_id) WHERE message_id IS NOT NULL;
      CREATE INDEX communications_by_content_hash ON communications(account, content_hash) WHERE content_hash IS NOT NULL;
      -- raw_hash: SHA-256 of the exact bytes in the message store (inbound as received, outbound as sent).
      ALTER TABLE communications ADD COLUMN raw_hash TEXT;
      -- Same Message-ID, sender, subject and body: SHA-256 over those (a resent copy with new Received lines).
      ALTER TABLE communications ADD COLUMN fingerprint TEXT;
      ALTER TABLE communications ADD COLUMN cc_addrs TEXT;
      ALTER TABLE communications ADD COLUMN sent_at TEXT;
      ALTER TABLE communications ADD COLUMN duplicate_of INTEGER REFERENCES communications(id);
      ALTER TABLE communications ADD COLUMN replay_of INTEGER REFERENCES communications(id);
      ALTER TABLE communications ADD COLUMN content_purged_at TEXT;
      ALTER TABLE communications ADD COLUMN content_purge_reason TEXT;
      CREATE INDEX communications_by_raw_hash ON communications(raw_hash) WHERE raw_hash IS NOT NULL;
      CREATE INDEX communications_by_fingerprint ON communications(account, fingerprint) WHERE fingerprint IS NOT NULL;
      CREATE INDEX communications_by_created ON communications(created_at);
      -- A stored message is replayed at most once; a replay that was quarantined again can itself be replayed.
      CREATE UNIQUE INDEX communications_replayed_once ON communications(replay_of) WHERE replay_of IS NOT NULL;

      -- The parsed content: the header block as received, the text and HTML bodies.
      CREATE TABLE communication_content (
        communication_id  INTEGER PRIMARY KEY REFERENCES communications(id) ON DELETE CASCADE,
        headers           TEXT NOT NULL,
        text_body         TEXT,
        html_body         TEXT,
        -- 1 when a body was longer than max_body_size and kept cut (the raw message is whole).
        truncated         INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      -- Each attachment, in MIME order; the bytes are in the message store under sha256.
      CREATE TABLE communication_attachments (
        communication_id  INTEGER NOT NULL REFERENCES communications(id) ON DELETE CASCADE,
        position          INTEGER NOT NULL,
        filename          TEXT,
        content_type      TEXT NOT NULL,
        size              INTEGER NOT NULL,
        sha256            TEXT NOT NULL,
        content_id        TEXT,
        inline            INTEGER NOT NULL DEFAULT 0 CHECK (inline IN (0, 1)),
        PRIMARY KEY (communication_id, position)
      ) STRICT;
      CREATE INDEX communication_attachments_by_hash ON communication_attachments(sha256);

      -- Processes that put content into the message store: their blobs are not orphans until
      -- they commit or die (store gc and the daemon's start-up clean-up skip newer blobs).
      CREATE TABLE store_writers (
        pid         INTEGER NOT NULL,
        host        TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        PRIMARY KEY (host, pid)
      ) STRICT;

      -- A mailbox action that did not do what the account asks (no MOVE/UIDPLUS, a failed move).
      ALTER TABLE inbound_sync ADD COLUMN mark_warning TEXT;

      -- When the daemon last ran each periodic task (the daily retention purge).
      CREATE TABLE housekeeping (
        task         TEXT PRIMARY KEY,
        last_run_at  TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'store reservations instead of writer start times',
    sql: `
      -- A blob a live writer is placing in the message store and is about to refer to from rows
      -- it commits: gc and purge never delete a reserved blob, and they delete under the
      -- database's write lock, so a blob is either reserved first (and kept) or deleted first
      -- (and the writer puts its own copy in place). Rows of a dead writer are cleared by gc.
      CREATE TABLE store_reservations (
        hash         TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        reserved_at  TEXT NOT NULL,
        PRIMARY KEY (hash, host, pid)
      ) STRICT, WITHOUT ROWID;
      DROP TABLE store_writers;
    `,
  },
  {
    // Issue 14, item 10: the per-record bound on references.
    version: 6,
    name: 'revoking a record\'s references',
    sql: `
      -- References sealed before this time (ISO 8601) no longer update the record:
      -- \`records revoke-references\` sets it; mail sent afterwards carries references that work.
      ALTER TABLE records ADD COLUMN refs_revoked_before TEXT;
    `,
  },
  {
    // Issue 14 (per-message isolation).
    version: 7,
    name: 'inbound messages that failed: attempts across polls, quarantine',
    sql: `
      -- A message that could not be taken (its fetch failed, or ingesting it threw), by account and
      -- mailbox key: tried again at each poll up to a bound, then quarantined. The row of a message
      -- taken after all is deleted in the commit that takes it.
      CREATE TABLE inbound_message_failures (
        account           TEXT NOT NULL,
        mailbox_key       TEXT NOT NULL,
        attempts          INTEGER NOT NULL,
        first_failed_at   TEXT NOT NULL,
        last_failed_at    TEXT NOT NULL,
        last_error        TEXT NOT NULL,
        -- Its quarantined communication, once quarantined. Its bytes may be incomplete or missing,
        -- so it is never deleted from its mailbox (an account that deletes leaves it there).
        communication_id  INTEGER REFERENCES communications(id),
        PRIMARY KEY (account, mailbox_key)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // Issue 14, item 1: the notices to rejected senders, counted apart from the queue (a notice
    // deleted from the queue still counts) by the mailbox they reach (sub-address tags removed).
    version: 8,
    name: 'notices to rejected senders: when, to which mailbox',
    sql: `
      CREATE TABLE reject_notices (
        mailbox    TEXT NOT NULL,
        queued_at  TEXT NOT NULL
      ) STRICT;
      CREATE INDEX reject_notices_mailbox ON reject_notices (mailbox, queued_at);
      CREATE INDEX reject_notices_time ON reject_notices (queued_at);
      -- The notices already queued count too.
      INSERT INTO reject_notices (mailbox, queued_at)
        SELECT lower(to_addrs), created_at FROM outbound_queue WHERE rule_id = 'inbound-reject';
    `,
  },
  {
    // Issue 15, item 2 (a truthful status) and the config watcher's record.
    version: 9,
    name: 'daemon state: a clean stop, the process, daemon --once runs, the configuration in use',
    sql: `
      -- 'loop' (mailctl daemon) or 'once' (daemon --once, from cron): the row is the last run's.
      ALTER TABLE daemon_state ADD COLUMN mode TEXT NOT NULL DEFAULT 'loop';
      -- Set when the run ended (a clean stop, the loop ending, --once done); null while it runs.
      ALTER TABLE daemon_state ADD COLUMN stopped_at TEXT;
      -- How it ended: 'ok', 'failed' (--once: an account or a message failed), 'error' (it threw).
      ALTER TABLE daemon_state ADD COLUMN result TEXT;
      ALTER TABLE daemon_state ADD COLUMN result_detail TEXT;
      -- The process, as "<boot id>:<start time in clock ticks>" (Linux /proc): a pid reused by
      -- another process after a crash is not taken for the daemon. Null where unknown.
      ALTER TABLE daemon_state ADD COLUMN process_start TEXT;
      -- What configuration the running daemon runs on, and the error of a config file broken by
      -- hand that it did not take (it kept the previous one); null once a good one is loaded.
      ALTER TABLE daemon_state ADD COLUMN config_generation TEXT;
      ALTER TABLE daemon_state ADD COLUMN config_error TEXT;
      ALTER TABLE daemon_state ADD COLUMN config_error_at TEXT;
    `,
  },
  {
    // Issue 15, item 4: a Graph poll with nothing new costs one request (the delta query).
    version: 10,
    name: 'Graph delta: the place in the round and the messages carried to the next poll',
    sql: `
      -- Per account, the link the next poll calls: the round's @odata.deltaLink, or an
      -- @odata.nextLink when a poll stopped mid-round. \`scope\` is the Graph URL, mailbox and folder
      -- it was made for: a place for another mailbox or folder is never used.
      CREATE TABLE graph_delta (
        account   TEXT PRIMARY KEY,
        scope     TEXT NOT NULL,
        link      TEXT,
        saved_at  TEXT NOT NULL
      ) STRICT;
      -- Messages a delta listed and that are not yet done (taken and marked): the delta will not
      -- list them again, so the next poll takes them from here. Deleted once marked done, or
      -- when the delta says they left the folder.
      CREATE TABLE graph_delta_carried (
        account      TEXT NOT NULL,
        mailbox_key  TEXT NOT NULL,
        received_at  TEXT,
        seen         INTEGER,
        PRIMARY KEY (account, mailbox_key)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // Issue 16, item 5: the sender is From, else Sender, else Reply-To, else Return-Path.
    version: 11,
    name: 'communications: the header an inbound sender was read from',
    sql: `
      -- 'From', 'Sender', 'Reply-To' or 'Return-Path' (for an invalid sender: the header refused);
      -- null when no header named a sender, and for outbound mail and rows from before.
      ALTER TABLE communications ADD COLUMN sender_header TEXT;
    `,
  },
];
