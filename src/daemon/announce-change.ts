import { existsSync } from 'node:fs';
import type { Deps } from '../deps.js';
import { resolveGlobals } from '../config/globals.js';
import { DaemonStateRepo } from '../store/daemon-state-repo.js';
import { daemonLiveness } from './daemon-liveness.js';
import { localProcessProbe } from './process-identity.js';

/** How long a command waits for the running daemon to take its change (the daemon looks 4 times a second). */
const pickupWaitMs = 3000;

/** What a command's change meant for the daemon, as added to its --json document under `daemon`. */
export type DaemonPickup =
  | { state: 'none'; summary: string }
  | { state: 'picked-up'; pid: number; host: string }
  | { state: 'kept-previous'; pid: number; host: string; error: string }
  | { state: 'not-yet'; pid: number; host: string };

/**
 * After a command changed the configuration or a secret (`generation` is what a daemon would
 * run on now, src/config/config-generation.ts): says whether a running daemon has picked it up,
 * waiting up to 3 s for it to record that generation; or that none runs, so it applies when one
 * starts. Never fails the command: the change is made whatever the daemon does.
 */
export async function announceChange(deps: Deps, generation: string): Promise<DaemonPickup | undefined> {
  if (!existsSync(deps.paths.databasePath)) return undefined;
  const config = (await deps.config()).read();
  const kb = config.kb?.name;
  if (!kb) return undefined;
  const db = await deps.db();
  const repo = new DaemonStateRepo(db);
  const frequency = resolveGlobals(config.globals ?? {}).inbound_check_frequency;
  const { out } = deps;
  const first = repo.get(kb);
  const live = daemonLiveness(first, deps.clock.now(), frequency, localProcessProbe(deps.paths.dataDir));
  if (!first || live.state !== 'up' || first.mode === 'once') {
    const summary = 'no daemon is running for this KB: the change applies when one starts (or at the next `mailctl daemon --once`)';
    out.line(out.color.dim(`${summary[0]!.toUpperCase()}${summary.slice(1)}.`));
    return { state: 'none', summary };
  }
  const deadline = Date.now() + pickupWaitMs;
  for (;;) {
    const beat = repo.get(kb);
    if (beat && beat.configGeneration === generation) {
      if (beat.configError) {
        out.warn(`The running daemon (pid ${beat.pid} on ${beat.host}) could not load this configuration and keeps running on the previous one: ${beat.configError}`);
        return { state: 'kept-previous', pid: beat.pid, host: beat.host, error: beat.configError };
      }
      out.success(`The running daemon (pid ${beat.pid} on ${beat.host}) has picked this up.`);
      return { state: 'picked-up', pid: beat.pid, host: beat.host };
    }
    if (Date.now() >= deadline) {
      const who = beat ?? first;
      out.warn(`The running daemon (pid ${who.pid} on ${who.host}) has not picked this up within ${pickupWaitMs / 1000} s; it follows changes within 2 s when it is well. See: mailctl status (or reload it: kill -HUP ${who.pid}).`);
      return { state: 'not-yet', pid: who.pid, host: who.host };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
