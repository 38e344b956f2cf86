import { describe, expect, it } from 'vitest';
import { throttleRetryDelay } from '../../src/outbound/retry-policy.js';
import { isThrottleReply } from '../../src/outbound/smtp-failure.js';
import { OutboundPacer, pacerFor } from '../../src/outbound/outbound-pacer.js';

const code = (reply: string) => Number(reply.slice(0, 3));

describe('throttling answers: the server pacing us, not refusing the message', () => {
  it.each([
    '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.', // Microsoft 365, SMTP AUTH
    '421 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded', // Microsoft 365 (older wording)
    '421 4.7.0 Too many concurrent SMTP connections',
    '421 mail.acme.test Too many connected clients, try again in a moment', // smtp-server's maxClients
    '451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77719) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]',
    '451 4.7.500 Access denied, please try again later. (AS77714)',
    '421 4.4.5 Server busy, try again later. (mx.google.com) - gsmtp',
    '450 4.7.1 Rate limit exceeded for this sender, slow down',
    '452 4.7.0 Too many messages in this session, throttled',
  ])('%s', (reply) => {
    expect(isThrottleReply(code(reply), reply)).toBe(true);
  });

  it.each([
    '451 4.7.1 Try again later', // greylisting: minutes by design
    '451 4.7.1 Greylisted, please try again in 300 seconds',
    '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered', // one recipient, not us
    '452 4.5.3 Too many recipients',
    '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.',
    '451 4.3.0 Temporary lookup failure',
    '550 5.7.500 Access denied, sending domain does not pass DMARC verification', // 5xx: never
    '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException', // a day's quota: not seconds
    '535 5.7.3 Authentication unsuccessful',
  ])('not throttling: %s', (reply) => {
    expect(isThrottleReply(code(reply), reply)).toBe(false);
  });

  it('a throttled message waits 1 s, then doubling, at most 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(throttleRetryDelay)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('the pacer lowers concurrency to the sessions still open and raises it slowly after a run of successes', () => {
    let t = 0;
    const pacer = new OutboundPacer({ maxConnections: 4 }, { now: () => t, sleep: async () => undefined });
    for (let i = 0; i < 4; i++) expect(pacer.tryOpen()).toBe(true);
    expect(pacer.tryOpen()).toBe(false);
    pacer.closed(); // the 4th was refused at connect
    expect(pacer.throttled(1)).toMatchObject({ concurrency: 3, retryInMs: 1000, giveUp: false });
    expect(pacer.tryOpen()).toBe(false);
    for (let i = 0; i < 19; i++) pacer.sent(100 + i);
    t += 61_000;
    pacer.sent(200);
    expect(pacer.concurrency).toBe(4); // 20 in a row and a minute since: one more
    t += 1000;
    expect(pacer.throttled(2).giveUp).toBe(false);
    t += 15 * 60_000;
    expect(pacer.throttled(2).giveUp).toBe(true); // throttled for 15 minutes: an outage, counted as failures
  });

  it('the daemon keeps one pacer while the server and its settings stay; a change gives a new one', () => {
    const server = { host: 'smtp.acme.test', port: 587, security: 'starttls' as const, auth: { type: 'none' as const }, from: 'a@acme.test' };
    const first = pacerFor(server);
    expect(first.settings).toEqual({ maxConnections: 3 });
    expect(pacerFor({ ...server, from: 'b@acme.test' }, first)).toBe(first);
    expect(pacerFor({ ...server, maxConnections: 2 }, first)).not.toBe(first);
    expect(pacerFor({ ...server, maxPerMinute: 30 }, first).settings).toEqual({ maxConnections: 3, maxPerMinute: 30 });
    expect(pacerFor({ ...server, host: 'smtp2.acme.test' }, first)).not.toBe(first);
  });
});
