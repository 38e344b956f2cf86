import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { requireBinary } from './require-binary.js';

export interface KeyringSession {
  /** What a process needs to reach this keyring. */
  env: { DBUS_SESSION_BUS_ADDRESS: string; XDG_RUNTIME_DIR: string };
  stop(): void;
}

/**
 * A private D-Bus session bus with an unlocked gnome-keyring on it, its files under `dir`.
 * Starting one again on a fresh dir is what a keyring that does not persist looks like
 * after a reboot: the same service, none of the secrets.
 */
export async function startKeyringSession(dir: string): Promise<KeyringSession> {
  const dbusDaemon = requireBinary('dbus-daemon', 'dbus');
  const dbusSend = requireBinary('dbus-send', 'dbus');
  const keyringDaemon = requireBinary('gnome-keyring-daemon', 'gnome-keyring');
  const runtimeDir = join(dir, 'run');
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const child of children.reverse()) child.kill('SIGTERM');
  };

  const bus = spawn(dbusDaemon, ['--session', '--nofork', '--print-address=1', `--address=unix:path=${join(dir, 'bus')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (Date.now() > deadline) {
      stop();
      throw new Error(`gnome-keyring did not appear on the bus: ${reply.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { env: { DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtimeDir }, stop };
}
