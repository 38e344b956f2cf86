// Arrival-to-record latency of the running daemon (issue 15), all against one real Dovecot and one
// `mailctl daemon` process with 20 IMAP accounts:
// - with IMAP IDLE: messages APPENDed one at a time (polls an hour apart would never see them);
// - with polling every 5 s (imap_idle switched off on the running daemon): the same;
// - fairness (with IDLE): one message into each of 19 mailboxes while the 20th is healthy (the
//   baseline), then while the 20th hangs mid-FETCH behind a proxy (it stops answering once asked
//   for a message); the polling run comes last, with the 20th still hung.
// Latency = from the APPEND (or the delivery) to the communication row being committed, read
// from the database every 20 ms.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const boxes = Array.from({ length: 20 }, (_, i) => `box${String(i + 1).padStart(2, '0')}`);

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** A proxy in front of Dovecot; with `hang` on it stops answering a connection once it asks for a message (FETCH). */
async function hangingProxy(target) {
  const state = { hang: false, fetchesHung: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    let hanging = false;
    client.on('data', (chunk) => {
      if (state.hang && / (UID )?FETCH /i.test(chunk.toString('latin1'))) { hanging = true; state.fetchesHung++; }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => { if (!hanging) client.write(chunk); });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, state, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

const until = async (check, ms, what) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

export async function benchDaemonLatency(perScenario = Number(process.env.MAILCTL_BENCH_LATENCY_MESSAGES ?? 20)) {
  const tsc = spawnSync(process.execPath, [here('../node_modules/typescript/bin/tsc'), '-p', here('../tsconfig.bench.json')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`compiling the bench helpers failed:\n${tsc.stdout}${tsc.stderr}`);
  const { startDovecot } = await import('./.build/dovecot.js');
  const { runCli } = await import('./.build/run-cli.js');
  const { openDatabase } = await import('../dist/store/database.js');
  const { ImapFlow } = await import('imapflow');
  const dovecot = await startDovecot({ users: boxes.map((b) => ({ name: `${b}@acme.test`, password: `${b}-pass` })) });
  const proxy = await hangingProxy(dovecot.imapPort);
  const home = mkdtempSync(join(tmpdir(), 'mailctl-bench-latency-'));
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  let daemon;
  try {
    const cli = async (args, input) => {
      const r = await runCli(args, { env, input, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`mailctl ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    for (const b of boxes) await cli(['tables', 'add', b]);
    await cli(['contacts', 'add', 'pat@acme.test', '--can-create', ...boxes]);
    await cli(['config', 'set', 'inbound_check_frequency', '1h']);
    for (const b of boxes) {
      await cli(['configure', 'inbound', b, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(b === 'box20' ? proxy.port : dovecot.imapPort), '--security', 'none', '--auth', 'password',
        '--username', `${b}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], `${b}-pass`);
    }
    daemon = spawn(process.execPath, [here('../bin/mailctl.js'), 'daemon', '--tick', '0.2s', '--timeout', '60s'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    daemon.stdout.on('data', (d) => (log += d));
    daemon.stderr.on('data', (d) => (log += d));
    await until(() => boxes.every((b) => log.includes(`"msg":"polled ${b}"`)), 60_000, 'the first poll of every account');
    await new Promise((r) => setTimeout(r, 1500)); // the IDLE connections settle
    const db = await openDatabase(join(home, 'mailctl.db'));
    const recorded = (subject) => db.prepare('SELECT 1 FROM communications WHERE subject = ?').get(subject) !== undefined;
    const appenders = new Map();
    const append = async (box, subject) => {
      let client = appenders.get(box);
      if (!client) {
        client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, doSTARTTLS: false, auth: { user: `${box}@acme.test`, pass: `${box}-pass` }, logger: false });
        await client.connect();
        appenders.set(box, client);
      }
      await client.append('INBOX', `From: pat@acme.test\r\nTo: ${box}@acme.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '-')}@acme.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\nPlease look.\r\n`);
      return Date.now();
    };
    const oneByOne = async (label) => {
      const latencies = [];
      for (let i = 0; i < perScenario; i++) {
        const box = boxes[i % 19];
        const subject = `${label} ${i}`;
        const at = await append(box, subject);
        await until(() => recorded(subject), 30_000, `"${subject}" to be recorded`);
        latencies.push(Date.now() - at);
        // The next arrival at a spread-out point of the 5 s polling interval (not just after a poll).
        await new Promise((r) => setTimeout(r, (i * 1237) % 5000));
      }
      return latencies;
    };
    const allAtOnce = async (label) => {
      const at = new Map();
      await Promise.all(boxes.slice(0, 19).map(async (b) => at.set(b, await append(b, `${label} ${b}`))));
      const latency = new Map();
      await until(() => {
        for (const b of boxes.slice(0, 19)) if (!latency.has(b) && recorded(`${label} ${b}`)) latency.set(b, Date.now() - at.get(b));
        return latency.size === 19;
      }, 60_000, `the 19 "${label}" messages`);
      return [...latency.values()];
    };

    const idle = await oneByOne('idle');
    // Fairness with push, so that the figure is not the phase of a polling interval: one message into
    // each of 19 mailboxes at once, with the 20th healthy, then with it hung mid-FETCH.
    const fair = await allAtOnce('healthy');
    proxy.state.hang = true;
    await append('box20', 'hangs the 20th');
    await until(() => proxy.state.fetchesHung > 0, 30_000, 'the 20th mailbox to hang mid-FETCH');
    const hung = await allAtOnce('hung');
    if (recorded('hangs the 20th')) throw new Error('the 20th mailbox never hung');
    await cli(['config', 'set', 'imap_idle', 'false']);
    await cli(['config', 'set', 'inbound_check_frequency', '5s']);
    const polling = await oneByOne('polling');
    for (const client of appenders.values()) await client.logout().catch(() => undefined);
    db.close();
    const p = (values, q) => percentile(values, q);
    return [
      { name: `arrival to record with IMAP IDLE, ${perScenario} messages: p50 (ms)`, value: p(idle, 0.5), baseline: p(polling, 0.5), baselineName: 'polling every 5 s', ratio: p(idle, 0.5) / p(polling, 0.5), unit: 'ms', samples: idle },
      { name: `arrival to record with IMAP IDLE, ${perScenario} messages: p95 (ms)`, value: p(idle, 0.95), baseline: p(polling, 0.95), baselineName: 'polling every 5 s', ratio: p(idle, 0.95) / p(polling, 0.95), unit: 'ms', target: 2000, targetKind: 'max ms' },
      { name: `arrival to record polling every 5 s, ${perScenario} messages: p50 / p95 (ms)`, value: p(polling, 0.95), unit: 'ms', p50: p(polling, 0.5), samples: polling },
      { name: '19 of 20 mailboxes (IDLE), the 20th hung mid-FETCH: p95 (ms)', value: p(hung, 0.95), baseline: p(fair, 0.95), baselineName: 'all 20 healthy', ratio: p(hung, 0.95) / p(fair, 0.95), unit: 'ms', target: 1.5, targetKind: 'max ratio', samples: hung, baselineSamples: fair },
    ];
  } finally {
    daemon?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    daemon?.kill('SIGKILL');
    proxy.close();
    await dovecot.stop();
    rmSync(home, { recursive: true, force: true });
  }
}
