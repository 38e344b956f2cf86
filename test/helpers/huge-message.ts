import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, closeSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Dovecot } from './dovecot.js';
import { bySize } from './reliability-tier.js';
import { binPath, runCli, runCliBytes } from './run-cli.js';

export const MB = 1024 * 1024;
/** The peak resident set `daemon --once` must stay under, whatever the message (issue 14). */
export const peakLimit = 300 * MB;
/** max_body_size's default (1MB): the most text kept per message, in characters. */
export const maxText = 1024 * 1024;

/** A piece of a generated message: `data` once, or as many whole copies as fit in `repeat` bytes. */
export interface Piece {
  data: Buffer;
  repeat?: number;
}

export interface Written {
  sha256: string;
  size: number;
}

/** What `comms show --json` recorded for a message. */
export interface Recorded {
  text: string | null;
  html: string | null;
  truncated: boolean;
  attachments: Array<{ filename: string | null; contentType: string; size: number; sha256: string }>;
}

export interface HugeCase {
  name: string;
  /** Its own Dovecot user: the mailbox holds this message, then a short one. */
  user: string;
  pieces: () => Piece[];
  /** Checks on what was recorded, beyond the common ones. */
  check: (recorded: Recorded) => void;
  /** The first attachment, to be kept whole: its SHA-256 and size. */
  attachment?: () => Written;
}

/** Lines joined with CRLF (and one after the last), as Latin-1 bytes. */
export const crlf = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');

/** A header block from lee@partner.test, Message-ID `<id@partner.test>`, with `extra` fields. */
export const headers = (user: string, id: string, extra: string[]) => crlf([
  'From: Lee Partner <lee@partner.test>', `To: ${user}`, `Subject: Huge ${id}`, `Message-ID: <${id}@partner.test>`,
  'Date: Mon, 30 Nov 2026 10:00:00 +0000', ...extra, '',
]);

/**
 * One case end to end: the message (streamed into the maildir) then a short one, a fresh KB
 * polling that mailbox over IMAP, `daemon --once` measured. It must exit 0 without a stack trace
 * under `peakLimit`, record the huge message with its text cut and its raw bytes whole (hash,
 * and `comms raw` byte for byte), keep its attachment whole, and record the next message.
 */
export async function runHugeCase(dovecot: Dovecot, home: string, c: HugeCase): Promise<void> {
  const maildir = dovecot.maildir(c.user);
  const written = writeMaildirMessage(maildir, 1, c.pieces());
  const id = c.user.split('@')[0]!;
  writeMaildirMessage(maildir, 2, [{ data: headers(c.user, `${id}-next`, []) }, { data: crlf(['The next message, a short one.']) }]);

  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  /** Output as bytes, decoded once: runCli decodes each pipe chunk alone, and a character split between two came out as two U+FFFD. */
  const json = async <T>(args: string[]) => {
    const r = await runCliBytes([...args, '--json'], { env, timeoutMs: 60_000 });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout.toString('utf8')) as T;
  };
  await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cli(['tables', 'add', 'reports']);
  await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'reports']);
  await cli(['configure', 'inbound', 'reports', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
    '--auth', 'password', '--username', c.user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
    '--notes', 'whole-body', '--after', 'mark-read'], 'pw');
  // These messages are larger than max_message_size's default (150 MB): an admin who takes them
  // raises it; what is shown here is that their text is cut as it streams, whatever their size.
  await cli(['config', 'set', 'max_message_size', '1GB']);

  const run = await runMeasured(['daemon', '--once', '--json'], env, bySize(600_000, 120_000));
  console.info(`${c.name}: daemon --once exit ${run.code}, peak RSS ${Math.round(run.peakRss / MB)} MB, ${Math.round(run.ms / 100) / 10} s`);
  expect(run.code, `${run.stdout}\n${run.stderr.slice(0, 4000)}`).toBe(0);
  expect(run.stderr).not.toMatch(/ERR_STRING_TOO_LONG|\n\s+at /);
  expect(run.peakRss).toBeLessThan(peakLimit);

  const list = await json<{ communications: Array<{ id: number; messageId: string | null; disposition: string; rawHash: string | null }> }>(['comms', 'list']);
  const byId = new Map(list.communications.map((row) => [row.messageId, row]));
  const huge = byId.get(`${id}@partner.test`);
  const next = byId.get(`${id}-next@partner.test`);
  expect(huge, JSON.stringify(list)).toBeDefined();
  expect(next, JSON.stringify(list)).toBeDefined();
  expect(huge!.disposition).toBe('record-created');
  expect(next!.disposition).toBe('record-created');
  // The raw message is whole in the store: its hash, and the bytes comms raw gives back.
  expect(huge!.rawHash).toBe(written.sha256);
  expect(await hashOutput(['comms', 'raw', String(huge!.id)], env)).toEqual(written);

  const shown = await json<{ content: Recorded; attachments: Recorded['attachments'] }>(['comms', 'show', String(huge!.id)]);
  expect(shown.content.truncated).toBe(true);
  c.check({ ...shown.content, attachments: shown.attachments });
  if (c.attachment) {
    const expected = c.attachment();
    expect(shown.attachments[0]!.sha256).toBe(expected.sha256);
    expect(shown.attachments[0]!.size).toBe(expected.size);
    expect(await hashOutput(['comms', 'attachment', String(huge!.id), '1', '-o', '-'], env)).toEqual(expected);
  }
  const nextShown = await json<{ content: Recorded }>(['comms', 'show', String(next!.id)]);
  expect(nextShown.content.text!.trim()).toBe('The next message, a short one.');
  expect(nextShown.content.truncated).toBe(false);
}

/**
 * Writes a message into the maildir's new/ as it is generated (never whole in memory), owned
 * by the maildir's owner; `order` keeps the messages in sequence. Returns its SHA-256 and size.
 */
export function writeMaildirMessage(maildir: string, order: number, pieces: Piece[]): Written {
  const owner = statSync(maildir);
  const name = `${1_700_000_000 + order}.M${order}P${process.pid}.huge-text`;
  const tmp = join(maildir, 'tmp', name);
  const fd = openSync(tmp, 'w');
  const hash = createHash('sha256');
  let size = 0;
  try {
    for (const piece of pieces) {
      const copies = piece.repeat === undefined ? 1 : Math.floor(piece.repeat / piece.data.length);
      for (let i = 0; i < copies; i++) {
        writeSync(fd, piece.data);
        hash.update(piece.data);
        size += piece.data.length;
      }
    }
  } finally {
    closeSync(fd);
  }
  chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, join(maildir, 'new', name));
  return { sha256: hash.digest('hex'), size };
}

/** Runs the CLI and hashes its standard output as it streams (a 600 MB raw message is never held). */
export function hashOutput(args: string[], env: Record<string, string>): Promise<Written> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      size += d.length;
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ sha256: hash.digest('hex'), size }) : reject(new Error(`mailctl ${args.join(' ')}: exit ${code}\n${stderr}`))));
  });
}

/** Runs the CLI, sampling its peak resident set (VmHWM, from /proc) every 20 ms until it exits. */
export function runMeasured(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; peakRss: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = () => {
      try {
        const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024);
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 20);
    const deadline = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, peakRss, ms: Date.now() - started });
    });
  });
}
