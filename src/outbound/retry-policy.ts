/** What happens to a queued message after a failed attempt. Pure: a function of times and the failure. */
export type AfterFailure =
  | { status: 'deferred'; nextAttemptAt: Date; firstFailureAt: Date }
  | { status: 'abandoned'; firstFailureAt: Date }
  | { status: 'failed' };

/**
 * Transient failures (connection, timeout, 4xx, 503) are retried every `interval` until
 * `lifetime` has passed since the first failure, then abandoned; permanent ones (other
 * 5xx) fail at once — retrying would only annoy the receiving server.
 */
export function afterFailure(input: { transient: boolean; firstFailureAt: Date | null; now: Date; interval: number; lifetime: number }): AfterFailure {
  if (!input.transient) return { status: 'failed' };
  const first = input.firstFailureAt ?? input.now;
  if (input.now.getTime() - first.getTime() >= input.lifetime) return { status: 'abandoned', firstFailureAt: first };
  return { status: 'deferred', nextAttemptAt: new Date(input.now.getTime() + input.interval), firstFailureAt: first };
}

/**
 * How long a throttled message waits before it is tried again (ms): 1 s after the server's first
 * "too many connections / busy" in a row, doubling with each one that follows without a message
 * accepted in between, at most 60 s. Seconds, not `outbound_retry_interval`: the server asked us
 * to slow down, not to come back in half an hour.
 */
export function throttleRetryDelay(throttlesInARow: number): number {
  return Math.min(throttleRetryMaxMs, 1000 * 2 ** Math.max(0, Math.min(throttlesInARow, 10) - 1));
}

/** The longest wait between two tries of a throttled message (ms). */
export const throttleRetryMaxMs = 60_000;

/**
 * A message throttled again and again for this long (ms) is an outage, not pacing: from then on
 * its throttled tries count as ordinary transient failures (recorded, retried every
 * `outbound_retry_interval`, abandoned after `outbound_retry_lifetime`).
 */
export const throttleGraceMs = 15 * 60_000;
