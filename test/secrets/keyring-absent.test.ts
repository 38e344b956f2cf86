import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { probeKeyring } from '../../src/secrets/keyring-secret-store.js';

describe('keyring detection without a Secret Service', () => {
  it('reports no persistent keyring (never the kernel-keyring fallback)', async () => {
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    const probe = await probeKeyring(`mailctl-test/${randomUUID()}`);
    expect(probe.usable).toBe(false);
    expect(probe.reason).toMatch(/no Secret Service/);
    expect(probe.reason).toMatch(/kernel keyring/);
  });
});
