import { describe, expect, it } from 'vitest';
import { receivedDate } from '../../src/mime/received-date.js';

describe('receivedDate: when the message reached its mailbox, from the newest Received header', () => {
  it('reads the date after the last ";" of the topmost Received, comment and folding included', () => {
    const head = [
      'Received: from mx.acme.test (mx.acme.test [192.0.2.7])\r\n\tby imap.acme.test with LMTP; id abc;\r\n Mon, 2 Mar 2026 10:00:05 +0100 (CET)',
      'Received: from sender.test by mx.acme.test; Mon, 2 Mar 2026 09:59:58 +0100',
      'Subject: x',
      '',
      'body',
    ].join('\r\n');
    expect(receivedDate(head)?.toISOString()).toBe('2026-03-02T09:00:05.000Z');
  });

  it('null without a Received header, or with one that has no date', () => {
    expect(receivedDate('Subject: x\r\n\r\n')).toBeNull();
    expect(receivedDate('')).toBeNull();
    expect(receivedDate('Received: from a by b\r\n\r\n')).toBeNull();
    expect(receivedDate('Received: from a by b; not a date\r\n\r\n')).toBeNull();
  });
});
