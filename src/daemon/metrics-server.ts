import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ExitCode, UsageError, UserError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DaemonHealth } from './daemon-health.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export interface MetricsServer {
  host: string;
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  port: number;
  close(): Promise<void>;
}

/** Where a bare `--metrics PORT` listens: loopback only (the metrics name the accounts). */
export const defaultMetricsHost = '127.0.0.1';

/** Each request (headers included) must be over within this many ms. */
const requestTimeoutMs = 5_000;
/** A scraper sends its few header lines at once: a client still sending them after 2 s holds a connection slot for nothing. */
const headersTimeoutMs = 2_000;
/** Connections at once; a scraper needs one. */
const maxConnections = 16;

/**
 * `PORT`, `HOST:PORT` or `[IPv6]:PORT` → where to listen; a bare port means 127.0.0.1.
 * Anything else is a UsageError (exit 2).
 */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) {
    throw new UsageError('E_METRICS_ADDRESS', `--metrics "${text}" is not a port or HOST:PORT.`, { fix: 'give a port (127.0.0.1 is used) or HOST:PORT, e.g. --metrics 9464 or --metrics 127.0.0.1:9464' });
  }
  const host = match[1] ?? match[2] ?? defaultMetricsHost;
  if (match[1] && isIP(host) !== 6) throw new UsageError('E_METRICS_ADDRESS', `--metrics "${text}": ${host} is not an IPv6 address.`);
  return { host, port };
}

/** Whether `host` can only be reached from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/**
 * Serves the daemon's metrics over HTTP: GET /metrics (Prometheus text format) and GET /healthz
 * (200 "ok", or 503 with one reason a line; JSON when the client accepts application/json).
 * Anything else is 404, a method other than GET or HEAD 405. No request body is ever read (a
 * request that has one gets its answer and the connection closed); each request has 5 s; at
 * most 16 connections. Resolves once listening; an address that cannot be bound (a port in
 * use, a host not of this machine, a port that needs privileges) is a UserError with exit 2,
 * so the daemon can refuse to start.
 */
export async function startMetricsServer(address: string, metrics: DaemonMetrics, health: () => DaemonHealth, log?: Logger): Promise<MetricsServer> {
  const { host, port } = parseMetricsAddress(address);
  // connectionsCheckingInterval: Node looks for requests past their timeout only every 30 s by
  // default, so 16 connections sending a byte a second held every scrape off for 30 s.
  const server = createServer({ requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs, keepAliveTimeout: requestTimeoutMs, connectionsCheckingInterval: 1000 }, (request, response) => {
    void answer(request, response, metrics, health).catch((error: unknown) => {
      log?.error({ error: (error as Error).message, path: request.url }, 'a metrics request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`);
      else response.destroy();
    });
  });
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(bindFailure(error, host, port)));
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  // After the start, a server error (none is expected) is logged, never thrown out of the daemon.
  server.on('error', (error) => log?.error({ error: error.message }, 'the metrics server failed'));
  const bound = server.address();
  const actualPort = bound && typeof bound === 'object' ? bound.port : port;
  return {
    host,
    port: actualPort,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function answer(request: IncomingMessage, response: ServerResponse, metrics: DaemonMetrics, health: () => DaemonHealth): Promise<void> {
  // A body is never read: the connection closes after the answer instead of draining it.
  if (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0' || request.headers['transfer-encoding'] !== undefined) response.setHeader('Connection', 'close');
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') return send(response, 404, 'text/plain; charset=utf-8', 'not found: GET /metrics or /healthz\n');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
  }
  if (path === '/metrics') return send(response, 200, metrics.contentType, await metrics.text());
  const report = health();
  if (/application\/json/.test(request.headers.accept ?? '')) {
    return send(response, report.healthy ? 200 : 503, 'application/json', `${JSON.stringify({ healthy: report.healthy, problems: report.problems, notes: report.notes })}\n`);
  }
  const lines = report.healthy ? ['ok', ...report.notes] : report.problems;
  return send(response, report.healthy ? 200 : 503, 'text/plain; charset=utf-8', `${lines.join('\n')}\n`);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  response.end(body); // Node sends no body to HEAD
}

/** Why the address could not be bound, for the admin: exit 2, before the daemon starts. */
function bindFailure(error: NodeJS.ErrnoException, host: string, port: number): UserError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const options = { exitCode: ExitCode.usage, cause: error };
  switch (error.code) {
    case 'EADDRINUSE':
      return new UserError('E_METRICS_PORT_IN_USE', `The metrics port ${where} is in use by another process.`, { ...options, fix: `choose another port with --metrics, or stop what listens there (ss -ltnp 'sport = :${port}')` });
    case 'EADDRNOTAVAIL':
      return new UserError('E_METRICS_ADDRESS', `The metrics address ${where} cannot be bound: ${host} is not an address of this machine.`, { ...options, fix: 'give a local address, e.g. --metrics 127.0.0.1:9464' });
    case 'EACCES':
      return new UserError('E_METRICS_ADDRESS', `The metrics address ${where} cannot be bound: permission denied (ports below 1024 need privileges).`, { ...options, fix: 'use a port above 1023, e.g. --metrics 9464' });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError('E_METRICS_ADDRESS', `The metrics address ${where} cannot be bound: the host name ${host} is not known.`, { ...options, fix: 'give an IP address, e.g. --metrics 127.0.0.1:9464' });
    default:
      return new UserError('E_METRICS_ADDRESS', `The metrics address ${where} cannot be bound: ${error.message}`, options);
  }
}
