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
