import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('tables, contacts and records commands', () => {
  const tempDir = useTempDirs();

  it('adds and lists, with --json and clear errors', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const result = await runCli([...args, '--json'], { env });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout);
    };
    await json(['tables', 'add', 'contracts', '--label', 'Contracts']);
    await json(['tables', 'add', 'support_cases']);
    expect((await json(['tables', 'list'])).tables.map((t: { name: string }) => t.name)).toEqual(['contracts', 'support_cases']);
    const duplicate = await runCli(['tables', 'add', 'contracts'], { env });
    expect(duplicate).toMatchObject({ code: 2, stderr: expect.stringContaining('already exists') });
    expect((await runCli(['tables', 'add', 'Bad Name'], { env })).code).toBe(2);

    const contact = await json(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts', 'support_cases']);
    expect(contact.contact).toMatchObject({ email: 'pat@acme.test', isGuest: false, canCreateIn: ['contracts', 'support_cases'] });
    await json(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    const unknownTable = await runCli(['contacts', 'add', 'lee@acme.test', '--can-create', 'invoices'], { env });
    expect(unknownTable).toMatchObject({ code: 2, stderr: expect.stringContaining('no table "invoices"') });
    expect((await runCli(['contacts', 'add', 'not-an-address'], { env })).code).toBe(2);
    expect((await json(['contacts', 'list'])).contacts.map((c: { email: string; isGuest: boolean }) => [c.email, c.isGuest]))
      .toEqual([['guest@acme.test', true], ['pat@acme.test', false]]);

    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal', '--created-by', 'pat@acme.test'])).record;
    expect((await json(['records', 'list', '--table', 'contracts'])).records).toEqual([record]);
    expect(await json(['records', 'show', String(record.id)])).toMatchObject({ record: { title: 'MSA renewal' }, notes: [] });
    expect((await runCli(['records', 'show', '999'], { env })).code).toBe(2);
    expect((await runCli(['records', 'show', 'abc'], { env })).code).toBe(2);
    expect((await runCli(['records', 'list', '--table', 'nope'], { env })).code).toBe(2);

    const human = await runCli(['contacts', 'list'], { env });
    expect(human.stdout).toMatch(/^EMAIL\s+NAME\s+GUEST\s+MAY CREATE IN$/m);
    expect(human.stdout).toMatch(/^pat@acme\.test\s+Pat Lee\s+contracts, support_cases$/m);
  });
});
