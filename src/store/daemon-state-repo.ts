import type { Database } from './database.js';

/** A heartbeat: who runs (pid on host, since when), beating now. */
export interface DaemonBeat {
  kb: string;
  pid: number;
  host: string;
  startedAt: string;
  heartbeatAt: string;
  /** The process's identity beyond its pid ("<boot id>:<start ticks>", src/daemon/process-identity.ts); absent where unknown. */
  processStart?: string | null;
}

/** How a run ended: 'ok', 'failed' (a `--once` run whose account or message failed), 'error' (it threw). */
export type DaemonRunResult = 'ok' | 'failed' | 'error';

/** The last daemon run of a KB, as recorded: what `status` and doctor judge. */
export interface DaemonState extends DaemonBeat {
  /** 'loop': `mailctl daemon`; 'once': `daemon --once` (cron). */
  mode: 'loop' | 'once';
  /** When the run ended (clean stop, loop ended, --once done); null while it runs or after a crash. */
  stoppedAt: string | null;
  result: DaemonRunResult | null;
  resultDetail: string | null;
  processStart: string | null;
  /** What configuration the running daemon runs on (the config watcher's generation). */
  configGeneration: string | null;
  /** A config file broken by hand that the daemon did not take (it kept the previous one); null once a good one is loaded. */
  configError: string | null;
  configErrorAt: string | null;
}

const columns = `kb, pid, host, started_at AS startedAt, heartbeat_at AS heartbeatAt, mode, stopped_at AS stoppedAt, result, result_detail AS resultDetail,
  process_start AS processStart, config_generation AS configGeneration, config_error AS configError, config_error_at AS configErrorAt`;

/** The daemon's record per KB (heartbeat, stop, --once runs, configuration in use), for `mailctl status` and doctor. */
export class DaemonStateRepo {
  constructor(private readonly db: Database) {}

  /**
   * The loop's heartbeat (every tick). A new run (another started_at) clears the previous run's
   * stop and its config error: a daemon that starts has loaded a good configuration.
   */
  beat(state: DaemonBeat): void {
    this.db.prepare(`INSERT INTO daemon_state (kb, pid, host, started_at, heartbeat_at, mode, process_start) VALUES (@kb, @pid, @host, @startedAt, @heartbeatAt, 'loop', @processStart)
      ON CONFLICT(kb) DO UPDATE SET
        config_error = CASE WHEN started_at = @startedAt AND pid = @pid THEN config_error END,
        config_error_at = CASE WHEN started_at = @startedAt AND pid = @pid THEN config_error_at END,
        pid = @pid, host = @host, started_at = @startedAt, heartbeat_at = @heartbeatAt, mode = 'loop', process_start = @processStart,
        stopped_at = NULL, result = NULL, result_detail = NULL`).run({ processStart: null, ...state });
  }

  /**
   * A clean stop (SIGTERM, SIGINT, the loop ending) or an end by an error (`error`): the run of
   * `pid` is marked stopped at `at` (ISO), so status says "stopped" at once. Does nothing when
   * the row is another run's (a newer daemon has started since).
   */
  markStopped(kb: string, pid: number, at: string, error?: string): void {
    this.db.prepare(`UPDATE daemon_state SET stopped_at = ?, heartbeat_at = ?, result = ?, result_detail = ? WHERE kb = ? AND pid = ? AND stopped_at IS NULL`)
      .run(at, at, error === undefined ? 'ok' : 'error', error ?? null, kb, pid);
  }

  /** A `daemon --once` run starts (under the daemon lock): the row becomes this run's, running. */
  startOnce(state: DaemonBeat): void {
    this.db.prepare(`INSERT INTO daemon_state (kb, pid, host, started_at, heartbeat_at, mode, process_start) VALUES (@kb, @pid, @host, @startedAt, @heartbeatAt, 'once', @processStart)
      ON CONFLICT(kb) DO UPDATE SET pid = @pid, host = @host, started_at = @startedAt, heartbeat_at = @heartbeatAt, mode = 'once', process_start = @processStart,
        stopped_at = NULL, result = NULL, result_detail = NULL, config_error = NULL, config_error_at = NULL`).run({ processStart: null, ...state });
  }

  /** A `daemon --once` run of `pid` ended at `at` with `result` (and what failed, if anything). */
  finishOnce(kb: string, pid: number, at: string, result: DaemonRunResult, detail?: string): void {
    this.db.prepare(`UPDATE daemon_state SET stopped_at = ?, heartbeat_at = ?, result = ?, result_detail = ? WHERE kb = ? AND pid = ? AND mode = 'once'`)
      .run(at, at, result, detail ?? null, kb, pid);
  }

  /**
   * The config watcher's record: the running daemon runs on `generation`; `error` non-null when
   * the config file was broken by hand and the daemon kept the previous configuration (the time
   * of the first such error is kept while it stays broken); null once a good one is loaded.
   * Does nothing before the daemon's first heartbeat (no row yet).
   */
  recordConfig(kb: string, change: { generation: string | null; error: string | null }, at: string = new Date().toISOString()): void {
    this.db.prepare(`UPDATE daemon_state SET config_generation = COALESCE(@generation, config_generation), config_error = @error,
      config_error_at = CASE WHEN @error IS NULL THEN NULL ELSE COALESCE(config_error_at, @at) END WHERE kb = @kb`)
      .run({ kb, generation: change.generation, error: change.error, at });
  }

  get(kb: string): DaemonState | undefined {
    return this.db.prepare(`SELECT ${columns} FROM daemon_state WHERE kb = ?`).get(kb) as DaemonState | undefined;
  }
}
