import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startKeyringSession } from './helpers/keyring-session.js';
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
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-keyring-'));
  const keyring = await startKeyringSession(dir);
  project.provide('keyringEnv', keyring.env);

  // The local OAuth server's certificate: trusted by the test processes only (the workers
  // start after this and inherit it; CLI runs get it passed explicitly), never disabling
  // verification anywhere.
  const certDir = join(dir, 'oauth-cert');
  mkdirSync(certDir);
  const oauthCert = makeSelfSignedCert(certDir, 'localhost');
  process.env.NODE_EXTRA_CA_CERTS = oauthCert.certPath;
  project.provide('oauthCert', oauthCert);

  return async () => {
    keyring.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
