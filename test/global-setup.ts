import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestProject } from 'vitest/node';
import { requireBinary } from './helpers/require-binary.js';
import { makeSelfSignedCert, type TestCert } from './helpers/tls-cert.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A private D-Bus session bus with an unlocked gnome-keyring on it. */
    keyringEnv: { DBUS_SESSION_BUS_ADDRESS: string; XDG_RUNTIME_DIR: string };
    /** The certificate of the local OAuth server, trusted by test processes via NODE_EXTRA_CA_CERTS. */
    oauthCert: TestCert;
  }
}

/**
 * Starts a private D-Bus session and an unlocked gnome-keyring for the keyring tests,
 * so the real Secret Service is tested without touching the developer's own keyring.
 */
export default async function setup(project: TestProject) {
  const dbusDaemon = requireBinary('dbus-daemon', 'dbus');
  const dbusSend = requireBinary('dbus-send', 'dbus');
  const keyringDaemon = requireBinary('gnome-keyring-daemon', 'gnome-keyring');
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-keyring-'));
  const runtimeDir = join(dir, 'run');
  mkdirSync(runtimeDir, { mode: 0o700 });
  const children: ChildProcess[] = [];

  const bus = spawn(dbusDaemon, ['--session', '--nofork', '--print-address=1', `--address=unix:path=${join(dir, 'bus')}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(bus);
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dbus-daemon printed no address in 5 s')), 5000);
    createInterface({ input: bus.stdout! }).once('line', (line) => { clearTimeout(timer); resolve(line.trim()); });
    bus.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtimeDir, HOME: dir, XDG_DATA_HOME: join(dir, 'data') };
  const keyring = spawn(keyringDaemon, ['--foreground', '--unlock', '--components=secrets'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(keyring);
  keyring.stdin!.end('test-keyring-password');

  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = spawnSync(dbusSend, ['--session', '--dest=org.freedesktop.DBus', '--print-reply', '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], { env, encoding: 'utf8' });
    if (reply.stdout.includes('boolean true')) break;
    if (Date.now() > deadline) throw new Error(`gnome-keyring did not appear on the bus: ${reply.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  project.provide('keyringEnv', { DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtimeDir });

  // The local OAuth server's certificate: trusted by the test processes only (the workers
  // start after this and inherit it; CLI runs get it passed explicitly), never disabling
  // verification anywhere.
  const certDir = join(dir, 'oauth-cert');
  mkdirSync(certDir);
  const oauthCert = makeSelfSignedCert(certDir, 'localhost');
  process.env.NODE_EXTRA_CA_CERTS = oauthCert.certPath;
  project.provide('oauthCert', oauthCert);

  return async () => {
    for (const child of children.reverse()) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}
