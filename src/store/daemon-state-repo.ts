import type { Database } from './database.js';

export interface DaemonState {
  kb: string;
  pid: number;
  host: string;
  startedAt: string;
  heartbeatAt: string;
}

/** The running daemon's heartbeat, for `mailctl status` and doctor. */
export class DaemonStateRepo {
  constructor(private readonly db: Database) {}

  beat(state: DaemonState): void {
    this.db.prepare(`INSERT INTO daemon_state (kb, pid, host, started_at, heartbeat_at) VALUES (@kb, @pid, @host, @startedAt, @heartbeatAt)
      ON CONFLICT(kb) DO UPDATE SET pid = @pid, host = @host, started_at = @startedAt, heartbeat_at = @heartbeatAt`).run(state);
  }

  /** TEMPORARY until the status branch lands (migration 9). */
  recordConfig(_kb: string, _config: { generation: string; error: string | null }): void {}

  get(kb: string): DaemonState | undefined {
    return this.db.prepare('SELECT kb, pid, host, started_at AS startedAt, heartbeat_at AS heartbeatAt FROM daemon_state WHERE kb = ?').get(kb) as DaemonState | undefined;
  }

}
