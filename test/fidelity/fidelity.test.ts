import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusRoot, formatRates, loadCorpus, mismatches, passRates, runFidelity, type FidelityRun } from './run-fidelity.js';

/**
 * Kinds (or single cases, "kind/name") that other work of issue 16 is fixing. While one of
 * these fails it is reported as skipped, with its mismatches, instead of failing the suite;
 * once it passes it passes. The lead empties this list when that work is merged: after that
 * every case must pass.
 */
// Kinds or cases that are known to fail (each name a kind, or kind/case): none, since issue 16's fixes.
// A case listed here is skipped while it fails, with its mismatches as the note.
const expectedToFail: string[] = [];

const mayFail = (kind: string, name: string) => expectedToFail.includes(kind) || expectedToFail.includes(`${kind}/${name}`);

/** `npm run fidelity` sets this: print the pass-rate tables and keep them as JSON. */
const report = process.env.MAILCTL_FIDELITY_REPORT === '1';

describe('fidelity: every case of test/fixtures/fidelity through Dovecot and one daemon --once', () => {
  const cases = loadCorpus();
  let run: FidelityRun;
  beforeAll(async () => {
    run = await runFidelity({ log: report ? (line) => console.log(line) : undefined });
  }, 180_000);

  afterAll(() => {
    if (!report || !run) return;
    const table = formatRates(run);
    console.log(`\n${table}\n`);
    for (const c of run.cases.filter((x) => !x.pass)) console.log(`FAIL ${c.kind}/${c.name}${mayFail(c.kind, c.name) ? ' (expected to fail)' : ''}\n  ${mismatches(c).join('\n  ')}`);
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `fidelity-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, rates: passRates(run), expectedToFail, cases: run.cases }, null, 2));
    console.log(`written: ${file}`);
  });

  it.for(cases.map((c) => [`${c.kind}/${c.name}`, c.kind, c.name] as const))('%s', ([, kind, name], ctx) => {
    const result = run.cases.find((r) => r.kind === kind && r.name === name)!;
    expect(result, `${kind}/${name} was not run`).toBeDefined();
    if (!result.pass && mayFail(kind, name)) return ctx.skip(`expected to fail for now: ${mismatches(result).join('; ')}`);
    const daemon = result.communicationId === null && run.daemonErrors ? `\ndaemon --once said:\n${run.daemonErrors}` : '';
    if (!result.pass) expect.fail(`${kind}/${name}:\n  ${mismatches(result).join('\n  ')}${daemon}`);
  });

  // The cases of issue 16 must live in the repo (a clone has no ../shared): the copies are the same bytes.
  const shared = fileURLToPath(new URL('../../../shared/cases/inbound/', import.meta.url));
  it.skipIf(!existsSync(shared))('shared-cases holds every case of ../shared/cases/inbound, byte for byte', () => {
    for (const file of readdirSync(shared).filter((f) => f.endsWith('.eml'))) {
      const copy = join(corpusRoot, 'shared-cases', file);
      expect(existsSync(copy), `${file} is not in shared-cases/`).toBe(true);
      expect(readFileSync(copy).equals(readFileSync(join(shared, file))), `${file} differs from ../shared`).toBe(true);
    }
  });
});
