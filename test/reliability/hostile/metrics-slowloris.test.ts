import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/free-port.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startDaemon } from '../outage-daemon.js';
import { setUpKb } from './daemon-kb.js';

function scrape(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path, timeout: 2000, agent: false }, (response) => { response.resume(); resolve(response.statusCode ?? 0); });
    request.on('timeout', () => { request.destroy(); resolve('timeout'); });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

// Issue 15, metrics: "5 s per request", at most 16 connections. A local process that holds 16
// connections, each sending a header byte a second, should lose them after 5 s.
describe('issue 15 attack: slowloris on the metrics endpoint', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => { sink = await startSmtpSink({}); });
  afterAll(async () => sink?.close());

  it('16 trickling connections: a scrape works again within 6 s', async () => {
    const s = await setUpKb(tempDir(), sink.port);
    const port = await freePort();
    const daemon = await startDaemon(s.env, '0.2s', ['--metrics', `127.0.0.1:${port}`]);
    const sockets: Socket[] = [];
    const timers: NodeJS.Timeout[] = [];
    try {
      expect(await scrape(port, '/metrics')).toBe(200);
      const opened = Date.now();
      const closedAfter: number[] = [];
      for (let i = 0; i < 16; i++) {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => undefined);
        socket.on('close', () => closedAfter.push(Date.now() - opened));
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        timers.push(setInterval(() => socket.write('X'), 1000));
        sockets.push(socket);
      }
      await new Promise((r) => setTimeout(r, 500));
      const results: Array<[number, number | string]> = [];
      let firstOk: number | undefined;
      while (Date.now() - opened < 40_000) {
        const r = await scrape(port, '/healthz');
        results.push([Math.round((Date.now() - opened) / 1000), r]);
        if (typeof r === 'number') { firstOk = Date.now() - opened; break; }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      console.info(`slowloris sockets closed after (ms): ${JSON.stringify(closedAfter.slice(0, 3))}…; scrapes: ${JSON.stringify(results)}; first answer after ${firstOk ?? 'never (40 s)'} ms`);
      expect(firstOk ?? Infinity).toBeLessThan(6000);
    } finally {
      for (const t of timers) clearInterval(t);
      for (const socket of sockets) socket.destroy();
      await daemon.stop();
    }
  }, 90_000);
});
