import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startDaemon } from '../outage-daemon.js';
import { setUpKb, sql } from './daemon-kb.js';

// Issue 15, "outbound that adapts": throttling answers slow the queue down and retry within
// seconds. A server that answers 421 to every greeting, forever: the pacer must neither spin
// (connection storm) nor lose or fail the messages early.
describe('issue 15 attack: an SMTP server answering 421 to every greeting', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => { sink = await startSmtpSink({}); });
  afterAll(async () => sink?.close());

  it('5 queued messages, 25 s: few connections, all still queued', async () => {
    const s = await setUpKb(tempDir(), sink.port);
    const greetings: number[] = [];
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      greetings.push(Date.now());
      socket.end('421 4.3.2 Too many connections, try again later\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    // Point the configured server at the hostile one (configure would verify it first).
    const { readFileSync, writeFileSync, renameSync } = await import('node:fs');
    const path = `${s.home}/config.json`;
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.outbound.port = port;
    writeFileSync(`${path}.x`, JSON.stringify(config), { mode: 0o600 });
    renameSync(`${path}.x`, path);
    for (let i = 0; i < 5; i++) await s.ok(['send', '--table', 'contracts', '--record', String(s.recordId), '--to', 'pat@acme.test', '--subject', `Throttled ${i}`, '--body', 'x']);
    const daemon = await startDaemon(s.env);
    const started = Date.now();
    try {
      await new Promise((r) => setTimeout(r, 25_000));
      const statuses = sql<Array<{ status: string; n: number }>>(s.home, 'SELECT status, count(*) AS n FROM outbound_queue GROUP BY status');
      const perSecond = greetings.map((t) => Math.round((t - started) / 1000));
      console.info(`421 forever: ${greetings.length} connections in 25 s at seconds ${JSON.stringify(perSecond)}; queue ${JSON.stringify(statuses)}; daemon errors ${daemon.logLines().filter((l) => (l.level ?? 0) >= 50).length}`);
      expect(greetings.length).toBeLessThan(40);
      expect(statuses).toEqual([{ status: 'queued', n: 5 }]);
    } finally {
      await daemon.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 90_000);
});
