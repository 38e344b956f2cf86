// Inbound ingest: N generated messages in a real Dovecot mailbox, taken into communications by
// `mailctl daemon --once`, against a raw imapflow client fetching the same messages' full
// source in the same run (before and after mailctl; the median). Throughput ratio, bytes in the
// message store per message against the raw size, and peak RSS (at Node's default flags, as
// `mailctl daemon` runs without NODE_OPTIONS; MAILCTL_BENCH_INGEST_NODE_ARGS adds flags).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedMail } from './generate-inbound-mail.js';
import { median } from './lib.js';
import { runMeasured } from './run-measured.js';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const user = 'contracts@acme.test';
const password = 'c-pass';
const kb = { name: 'acme-prod', url: 'https://records.acme.test' };

export async function benchInboundIngest(count = Number(process.env.MAILCTL_BENCH_MESSAGES ?? 10_000)) {
  // The Dovecot launcher and runCli are the tests' own (TypeScript): compiled for plain node.
  const tsc = spawnSync(process.execPath, [here('../node_modules/typescript/bin/tsc'), '-p', here('../tsconfig.bench.json')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`compiling the bench helpers failed:\n${tsc.stdout}${tsc.stderr}`);
  const { startDovecot } = await import('./.build/dovecot.js');
  const { runCli } = await import('./.build/run-cli.js');
  const dovecot = await startDovecot({ users: [{ name: user, password }] });
  const home = mkdtempSync(join(tmpdir(), 'mailctl-bench-ingest-'));
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  try {
    const cli = async (args, input) => {
      const r = await runCli(args, { env, input, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`mailctl ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    await cli(['init', '--name', kb.name, '--url', kb.url, '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    const knownSenders = ['pat@acme.test', 'jo@acme.test', 'kim@acme.test', 'alex@acme.test', 'sam@acme.test'];
    for (const address of knownSenders) await cli(['contacts', 'add', address, '--can-create', 'contracts']);
    await cli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test',
      '--notes', 'new-text', '--after', 'mark-read'], password);
    const replyStamp = await referencesToRecords(home, Math.max(5, Math.round(count / 50)));

    const generated = writeGeneratedMail({ maildir: dovecot.maildir(user), count, owner: mailOwner(), knownSenders, replyStamp });
    const look = () => imapWorker(dovecot.imapPort, 'list');
    const warm = await look(); // Dovecot moves new/ to cur/ and builds its index: paid by neither side
    if (warm.result.messages !== count || warm.result.unseen !== count) throw new Error(`the mailbox holds ${warm.result.messages} messages, ${warm.result.unseen} unseen; expected ${count}`);

    const before = await imapWorker(dovecot.imapPort, 'fetch');
    const stillUnseen = (await look()).result.unseen;
    if (stillUnseen !== count) throw new Error(`the baseline fetch marked ${count - stillUnseen} messages \\Seen`);
    // MAILCTL_BENCH_INGEST_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the daemon run.
    const nodeArgs = (process.env.MAILCTL_BENCH_INGEST_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const mailctl = await runMeasured([...nodeArgs, here('../bin/mailctl.js'), 'daemon', '--once', '--json'], { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
    if (mailctl.code !== 0) throw new Error(`mailctl daemon --once exited ${mailctl.code}:\n${mailctl.stdout.slice(-2000)}${mailctl.stderr.slice(-2000)}`);
    const after = await imapWorker(dovecot.imapPort, 'fetch');
    for (const run of [before, after]) if (run.result.messages !== count) throw new Error(`the baseline fetched ${run.result.messages} of ${count} messages`);
    await checkIngest(home, count, generated, JSON.parse(mailctl.stdout));
    const stored = await checkStore(home, count);

    const rate = count / mailctl.seconds;
    const baseRate = count / median([before.seconds, after.seconds]);
    const rawPerMessage = before.result.bytes / count; // as the server sends it (CRLF), what `comms raw` gives back
    return [
      { name: `inbound ingest, ${count} messages (msgs/s)`, value: rate, baseline: baseRate, baselineName: 'imapflow fetch of full source', ratio: rate / baseRate, target: 0.3, targetKind: 'min ratio', unit: '/s',
        cpuSeconds: mailctl.cpuSeconds, mainThreadCpuSeconds: mailctl.mainThreadCpuSeconds, threadCpuSeconds: mailctl.threads, baselineCpuSeconds: median([before.cpuSeconds, after.cpuSeconds]), seconds: mailctl.seconds, baselineSeconds: [before.seconds, after.seconds] },
      { name: 'inbound ingest: stored bytes per message (KB)', value: stored.bytes / count / 1024, baseline: rawPerMessage / 1024, baselineName: 'raw message', ratio: stored.bytes / before.result.bytes, unit: 'KB',
        blobs: stored.blobs, rawBlobs: stored.rawBlobs, attachmentBlobs: stored.attachmentBlobs },
      { name: 'inbound ingest: peak RSS (MB)', value: mailctl.peakRss / 2 ** 20, baseline: Math.max(before.peakRss, after.peakRss) / 2 ** 20, baselineName: 'imapflow fetch', unit: 'MB', target: 200, targetKind: 'max MB',
        nodeArgs: nodeArgs.join(' ') || '(defaults)' },
    ];
  } finally {
    await dovecot.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/** The imapflow worker as its own measured process. */
async function imapWorker(port, mode) {
  const run = await runMeasured([here('./imap-fetch-worker.js'), String(port), user, password, mode], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  if (run.code !== 0) throw new Error(`imap-fetch-worker ${mode} exited ${run.code}: ${run.stderr}`);
  return { ...run, result: JSON.parse(run.stdout.trim().split('\n').pop()) };
}

/**
 * Creates `records` records and returns what a reply to the i-th message quotes: the reference
 * stamp of our outbound mail about one of them, sealed with the KB's own key.
 */
async function referencesToRecords(home, records) {
  const { openDatabase } = await import('../dist/store/database.js');
  const { RecordsRepo } = await import('../dist/store/records-repo.js');
  const { FileSecretStore } = await import('../dist/secrets/file-secret-store.js');
  const { loadRefKeys } = await import('../dist/refs/ref-keys.js');
  const { stampReference } = await import('../dist/refs/stamp-reference.js');
  const db = await openDatabase(join(home, 'mailctl.db'));
  const repo = new RecordsRepo(db, { now: () => new Date('2026-11-01T09:00:00Z') });
  const created = db.transaction(() => Array.from({ length: records }, (_, i) => repo.create({ table: 'contracts', title: `Contract ${1000 + i} renewal`, createdBy: 'pat@acme.test' })))();
  db.close();
  const store = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key') });
  const key = (await loadRefKeys(store, ['k1'])).get('k1');
  return (i) => {
    const record = created[Math.floor(i / 5) % created.length];
    return stampReference({ kb: kb.name, serverUrl: kb.url, table: 'contracts', recordId: record.id, origin: 'rule:renewal-reminder', sentAt: new Date('2026-11-01T10:00:00Z') }, record.title, 'k1', key);
  };
}

/** Every message became exactly one communication, and every reply found its record; else the bench fails. */
async function checkIngest(home, count, generated, report) {
  const poll = report.accounts?.[0]?.poll;
  if (report.accounts?.[0]?.status !== 'ok' || poll?.processed !== count) throw new Error(`mailctl daemon --once processed ${poll?.processed ?? 0} of ${count}: ${JSON.stringify(report).slice(0, 2000)}`);
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(join(home, 'mailctl.db'), { readonly: true });
  const rows = db.prepare("SELECT disposition, COUNT(*) AS n FROM communications WHERE direction = 'inbound' GROUP BY disposition").all();
  db.close();
  const byDisposition = Object.fromEntries(rows.map((r) => [r.disposition, r.n]));
  const total = Object.values(byDisposition).reduce((a, b) => a + b, 0);
  if (total !== count) throw new Error(`${total} communications for ${count} messages: ${JSON.stringify(byDisposition)}`);
  if (byDisposition['record-updated'] !== generated.replies) throw new Error(`${byDisposition['record-updated'] ?? 0} replies reached their record, of ${generated.replies}: ${JSON.stringify(byDisposition)}`);
}

/**
 * Every message's raw bytes are in the message store (a communication with raw_hash for each,
 * its blob on disk and reading back to its hash), and so is every attachment the rows link;
 * else the bench fails. Returns the bytes the store takes on disk (every file under objects/).
 */
async function checkStore(home, count) {
  const { default: Sqlite } = await import('better-sqlite3');
  const { FsMessageStore } = await import('../dist/store/fs-message-store.js');
  const db = new Sqlite(join(home, 'mailctl.db'), { readonly: true });
  const raw = db.prepare("SELECT raw_hash AS hash FROM communications WHERE direction = 'inbound' AND raw_hash IS NOT NULL").all().map((r) => r.hash);
  const attachments = db.prepare('SELECT DISTINCT sha256 AS hash FROM communication_attachments').all().map((r) => r.hash);
  db.close();
  if (raw.length !== count) throw new Error(`${raw.length} of ${count} communications have their raw message stored`);
  const store = new FsMessageStore(join(home, 'messages'));
  const objects = join(home, 'messages', 'objects');
  const onDisk = new Map();
  for (const folder of readdirSync(objects)) for (const name of readdirSync(join(objects, folder))) onDisk.set(name.replace(/\.gz$/, ''), statSync(join(objects, folder, name)).size);
  const wanted = new Set([...raw, ...attachments]);
  const missing = [...wanted].filter((hash) => !onDisk.has(hash));
  if (missing.length > 0) throw new Error(`${missing.length} stored blobs are missing, e.g. ${missing[0]}`);
  if (onDisk.size !== wanted.size) throw new Error(`${onDisk.size - wanted.size} blobs in the store that no communication refers to`);
  // Read every raw message back (the store verifies the SHA-256 as it streams).
  for (const hash of new Set(raw)) for await (const chunk of await store.open(hash)) void chunk;
  return { bytes: [...onDisk.values()].reduce((a, b) => a + b, 0), blobs: onDisk.size, rawBlobs: new Set(raw).size, attachmentBlobs: attachments.length };
}

/** Dovecot's userdb runs as `mail`: the generated files are its own, as a delivery's would be. */
function mailOwner() {
  const id = (flag) => Number(spawnSync('id', [flag, 'mail'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}
