import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where mailctl keeps its files. */
export interface MailctlPaths {
  configDir: string;
  dataDir: string;
  databasePath: string;
  /** The message store: raw messages and attachments (content-addressed, compressed). */
  messageStoreDir: string;
  secretFilePath: string;
  secretKeyPath: string;
}

/**
 * MAILCTL_HOME puts everything in one folder (handy for tests and for several KBs on
 * one host); otherwise config follows XDG_CONFIG_HOME and data XDG_DATA_HOME.
 */
export function resolvePaths(env: Record<string, string | undefined>): MailctlPaths {
  const home = env.MAILCTL_HOME;
  const configDir = home ?? join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'mailctl');
  const dataDir = home ?? join(env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share'), 'mailctl');
  return {
    configDir,
    dataDir,
    databasePath: join(dataDir, 'mailctl.db'),
    messageStoreDir: join(dataDir, 'messages'),
    secretFilePath: join(dataDir, 'secrets.enc'),
    secretKeyPath: join(configDir, 'master.key'),
  };
}
