import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { resolvePaths } from '../../src/config/paths.js';
import { doctorChecks, runDoctorChecks, runsUnder } from '../../src/doctor/doctor-checks.js';
import { doctorAreas, sectionArea } from '../../src/doctor/finding.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('doctor\'s runner', () => {
  const tempDir = useTempDirs();

  it('a check that breaks becomes an error finding and the other checks still run; --no-network skips exactly the network checks', async () => {
    const home = tempDir();
    const paths = resolvePaths({ MAILCTL_HOME: home });
    const db = await openDatabase(paths.databasePath);
    db.close(); // every check that reads the database now throws
    const store = new FileSecretStore({ path: paths.secretFilePath, keyPath: paths.secretKeyPath });
    const config = { kb: { name: 'acme', url: 'https://records.acme.test', environment: 'production' as const, refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: new Date().toISOString() } };
    const result = await runDoctorChecks(
      { config, globals: resolveGlobals({}), paths, configPath: join(home, 'config.json'), fileModes: new Map(), clock: { now: () => new Date() }, db, messages: new FsMessageStore(paths.messageStoreDir), verifyStore: false, secrets: { store, reason: 'test', recorded: true }, timeoutMs: 2000 },
      { network: false },
    );
    const broken = result.findings.filter((f) => f.title.endsWith('could not run'));
    expect(broken.map((f) => f.check).sort()).toEqual(['daemon.heartbeat', 'inbound.quarantined', 'queue.deferred', 'queue.duplicates', 'queue.over-limits', 'queue.rule-repeats', 'queue.size-failures', 'store.content']);
    expect(broken.every((f) => f.severity === 'error' && /database connection is not open/i.test(f.seen))).toBe(true);
    expect(result.passed.map((p) => p.check)).toEqual(expect.arrayContaining(['config.email-enabled', 'store.disk-space']));
    expect(result.skipped).toEqual(['outbound.login', 'inbound.accounts', 'outbound.server-size', 'oauth.renew']);
  });

  it('--only AREA runs only that area\'s checks: a check in the Configuration, OAuth or Stored-messages section belongs to that area alone', () => {
    for (const check of doctorChecks) {
      const owner = sectionArea[check.symptom];
      if (owner) expect(check.areas, check.id).toEqual([owner]);
    }
    const sections = (area: (typeof doctorAreas)[number]) => [...new Set(doctorChecks.filter((c) => runsUnder(c, area)).map((c) => c.symptom))].sort();
    expect(sections('inbound')).toEqual(['not-moving']);
    expect(sections('store')).toEqual(['store']);
    expect(sections('oauth')).toEqual(['oauth']);
    expect(doctorChecks.filter((c) => runsUnder(c, 'inbound')).map((c) => c.id)).toEqual(expect.arrayContaining(['inbound.accounts', 'inbound.last-poll', 'inbound.mailbox-marking', 'inbound.quarantined', 'daemon.heartbeat']));
  });
});
