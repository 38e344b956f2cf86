import { describe, expect, it } from 'vitest';
import { globalDefinitions, normalizeGlobal, resolveGlobals } from '../../src/config/globals.js';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/config/units.js';

describe('units', () => {
  it('parses durations in s, m, h, d', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('5d')).toBe(432_000_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('5 days')).toBeUndefined();
  });
  it('parses sizes as powers of 1024, or bytes', () => {
    expect(parseSize('10MB')).toBe(10 * 1024 * 1024);
    expect(parseSize('512kb')).toBe(512 * 1024);
    expect(parseSize('1GB')).toBe(1024 ** 3);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1.5')).toBeUndefined();
    expect(parseSize('10TB')).toBeUndefined();
  });
  it('formats to the shortest exact unit', () => {
    expect(formatDuration(1_800_000)).toBe('30m');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatSize(10 * 1024 * 1024)).toBe('10MB');
    expect(formatSize(1000)).toBe('1000B');
  });
});

describe('global variables', () => {
  it('has the source guide defaults', () => {
    const values = resolveGlobals({});
    expect(values).toEqual({
      inbound_check_frequency: 60_000,
      imap_full_sweep_interval: 45 * 60_000,
      outbound_retry_interval: 30 * 60_000,
      outbound_retry_lifetime: 5 * 86_400_000,
      max_attachment_size: 10 * 1024 * 1024,
      max_body_size: 1024 * 1024,
      max_message_size: 150 * 1024 * 1024,
      email_enabled: true,
      nonproduction_redirect: '',
      nonproduction_allow_outbound: false,
      message_retention: null,
      reject_notice_interval: 7 * 86_400_000,
      reference_lifetime: 365 * 86_400_000,
      max_mailbox_connections: 8,
      imap_idle: true,
    });
    expect(resolveGlobals({ reference_lifetime: 'forever' }).reference_lifetime).toBeNull();
    expect(resolveGlobals({ message_retention: '90d' }).message_retention).toBe(90 * 86_400_000);
  });

  // One good value (with its canonical form) and bad values for every variable.
  const cases: Record<string, { good: [string, string][]; bad: string[] }> = {
    inbound_check_frequency: { good: [['2m', '2m'], ['120s', '2m'], ['30s', '30s']], bad: ['2', 'fast', '1s', '2d', '-1m'] },
    imap_full_sweep_interval: { good: [['45m', '45m'], ['1h', '1h']], bad: ['10s', '30d', 'hourly'] },
    outbound_retry_interval: { good: [['15m', '15m'], ['1800s', '30m']], bad: ['0s', '2d', ''] },
    outbound_retry_lifetime: { good: [['5d', '5d'], ['72h', '3d']], bad: ['30s', '90d', '5 days'] },
    max_attachment_size: { good: [['25mb', '25MB'], ['1024', '1KB'], ['0', '0B']], bad: ['2GB', 'big', '10TB', '-5MB'] },
    max_body_size: { good: [['2MB', '2MB'], ['512KB', '512KB']], bad: ['100', '2GB', '1,5MB'] },
    max_message_size: { good: [['150MB', '150MB'], ['25mb', '25MB'], ['1GB', '1GB']], bad: ['512KB', '2GB', 'huge'] },
    email_enabled: { good: [['false', 'false'], ['YES', 'true'], ['off', 'false']], bad: ['maybe', '2', ''] },
    nonproduction_redirect: { good: [['qa@acme.test', 'qa@acme.test'], ['', '']], bad: ['qa', 'QA <qa@acme.test>', 'a@b'] },
    nonproduction_allow_outbound: { good: [['true', 'true'], ['0', 'false']], bad: ['sure', 'truee'] },
    message_retention: { good: [['90d', '90d'], ['Forever', 'forever'], ['2557d', '2557d'], ['24h', '1d']], bad: ['12h', '0d', 'never', '1y', '36501d', ''] },
    reject_notice_interval: { good: [['7d', '7d'], ['24h', '1d'], ['1h', '1h']], bad: ['30m', '366d', 'forever', ''] },
    reference_lifetime: { good: [['365d', '365d'], ['Forever', 'forever'], ['90d', '90d']], bad: ['12h', '0d', '36501d', ''] },
    max_mailbox_connections: { good: [['8', '8'], ['1', '1'], ['0200', '200']], bad: ['0', '201', 'many', '2.5', '-1', ''] },
    imap_idle: { good: [['false', 'false'], ['on', 'true']], bad: ['push', ''] },
  };

  it('covers every variable', () => {
    expect(Object.keys(cases).sort()).toEqual(globalDefinitions.map((d) => d.name).sort());
  });

  for (const [name, { good, bad }] of Object.entries(cases)) {
    it(`${name}: accepts and normalises good values`, () => {
      for (const [input, canonical] of good) expect(normalizeGlobal(name, input)).toBe(canonical);
    });
    it(`${name}: rejects bad values with a usage error naming the variable`, () => {
      for (const input of bad) {
        expect(() => normalizeGlobal(name, input)).toThrowError(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(name) }));
      }
    });
  }

  it('a value in config.json that config set would refuse (edited by hand) is refused when read, never used', () => {
    for (const [name, value] of [['inbound_check_frequency', '0s'], ['inbound_check_frequency', 'soon'], ['max_mailbox_connections', 'many'], ['email_enabled', 'maybe']] as const) {
      expect(() => resolveGlobals({ [name]: value })).toThrowError(expect.objectContaining({ code: 'E_GLOBAL_STORED', exitCode: 3, message: expect.stringContaining(`sets ${name} to "${value}"`), fix: expect.stringContaining(`mailctl config unset ${name}`) }));
    }
  });

  it('rejects an unknown name and lists the known ones', () => {
    expect(() => normalizeGlobal('retry_interval', '1m')).toThrowError(expect.objectContaining({ code: 'E_GLOBAL_UNKNOWN', fix: expect.stringContaining('outbound_retry_interval') }));
  });
});
