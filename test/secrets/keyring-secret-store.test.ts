import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore, probeKeyring } from '../../src/secrets/keyring-secret-store.js';

// @napi-rs/keyring settles on its D-Bus connection once per process, so the
// "no keyring" case lives in its own file (vitest runs each file in its own process).
describe('keyring secret store (real gnome-keyring on a private D-Bus session)', () => {
  it('stores, reads and deletes through the Secret Service', async () => {
    Object.assign(process.env, inject('keyringEnv'));
    const service = `mailctl-test/${randomUUID()}`;
    expect((await probeKeyring(service)).usable).toBe(true);
    const store = await KeyringSecretStore.open(service);
    await store.set('props/outbound/x', 'keyring-secret-value');
    expect(await store.get('props/outbound/x')).toBe('keyring-secret-value');
    // A second store object (as a second process would) sees the same entry.
    expect(await (await KeyringSecretStore.open(service)).get('props/outbound/x')).toBe('keyring-secret-value');
    // Another installation's namespace does not.
    expect(await (await KeyringSecretStore.open(`${service}-other`)).get('props/outbound/x')).toBeUndefined();
    expect(await store.delete('props/outbound/x')).toBe(true);
    expect(await store.get('props/outbound/x')).toBeUndefined();
  });
});
