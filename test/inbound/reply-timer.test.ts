import { describe, expect, it } from 'vitest';
import { longReplyTimer, messageAllowance } from '../../src/inbound/pop3-limits.js';
import { ReplyTimeout, ReplyTimer } from '../../src/inbound/reply-timer.js';

/**
 * Feeds a timer a server that sends `bytesPerStep` every `stepMs` (all of it time spent
 * waiting), on a clock of our own; returns when and why it failed, or null if `totalBytes`
 * arrived first.
 */
function simulate(timer: ReplyTimer, start: number, stepMs: number, bytesPerStep: number, totalBytes: number): { atMs: number; error: ReplyTimeout } | null {
  let now = start;
  while (timer.bytes < totalBytes) {
    // One wait for the next bytes, cut into the pieces nextWait allows.
    let waiting = 0;
    while (waiting < stepMs) {
      const wait = timer.nextWait(now, waiting);
      if (wait instanceof ReplyTimeout) return { atMs: now - start, error: wait };
      const slept = Math.min(wait, stepMs - waiting);
      now += slept;
      waiting += slept;
      timer.waited(slept);
    }
    timer.received(bytesPerStep);
  }
  return null;
}

describe('reply limits: idle, pace, deadline', () => {
  const t0 = 1_000_000;

  it('a one-line reply is whole within --timeout, however its bytes trickle', () => {
    const timer = ReplyTimer.oneLine('the greeting', 5000, t0);
    const failed = simulate(timer, t0, 1000, 1, 30);
    expect(failed?.atMs).toBe(5000);
    expect(failed?.error.message).toBe('no complete answer from the server within 5000 ms while reading the greeting');
    expect(simulate(ReplyTimer.oneLine('the greeting', 5000, t0), t0, 6000, 30, 30)?.error.message).toBe('no answer from the server within 5000 ms while reading the greeting');
  });

  it('a message trickled a line every 4 s fails at the first --timeout of waiting, whatever size it was listed at', () => {
    for (const listed of [200, 25 * 1024 * 1024]) {
      const failed = simulate(longReplyTimer('the message', 5000, messageAllowance(listed), t0), t0, 4000, 80, listed);
      expect(failed?.atMs).toBeLessThanOrEqual(10_000);
      expect(failed?.error.message).toMatch(/^the server is sending the message too slowly: \d+ bytes in 5\.0 s of waiting, under the 10240 bytes due in every 5\.0 s/);
    }
  });

  it('a server above the pace but slower than the deadline allows fails at the deadline: --timeout + the allowance at 32 KB/s', () => {
    const listed = 100 * 1024;
    const allowance = messageAllowance(listed); // 1.2 MB
    const failed = simulate(longReplyTimer('the message', 5000, allowance, t0), t0, 1000, 3 * 1024, allowance);
    expect(failed?.atMs).toBe(5000 + Math.ceil((allowance * 1000) / (32 * 1024)));
    expect(failed?.error.message).toMatch(/^the message was not complete within its deadline of 43 s \(\d+ bytes had come\)$/);
  });

  it('a listed size that is no number, or absurd, still gives a bounded allowance', () => {
    expect(messageAllowance(Number.NaN)).toBe(1024 * 1024);
    expect(messageAllowance(-5)).toBe(1024 * 1024);
    expect(messageAllowance(1e15)).toBe(1024 * 1024 * 1024);
  });

  it('a 25 MB message at 40 KB/s, with pauses just under --timeout, is never cut', () => {
    const listed = 25 * 1024 * 1024;
    // 40 KB/s on average: 180 KB in one piece every 4.5 s.
    expect(simulate(longReplyTimer('the message', 5000, messageAllowance(listed), t0), t0, 4500, 180 * 1024, listed)).toBeNull();
  });
});
