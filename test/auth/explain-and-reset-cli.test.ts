import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl explain', () => {
  const tempDir = useTempDirs();
  const env = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' });

  it('explains pasted text, a file and standard input; says honestly when it does not know', async () => {
    const e = env();
    const pasted = await runCli(['explain', '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'], { env: e });
    expect(pasted.code).toBe(0);
    expect(pasted.stdout).toContain('SMTP AUTH (authenticated client submission) switched off');
    const file = join(e.MAILCTL_HOME, 'err.txt');
    writeFileSync(file, "Problem with oauth authentication: {error=invalid_grant, error_description=AADSTS65001: The user or administrator has not consented to use the application with ID 'x'.");
    const fromFile = JSON.parse((await runCli(['explain', '--file', file, '--json'], { env: e })).stdout);
    expect(fromFile).toMatchObject({ ok: true, diagnosis: { id: 'aadsts65001-no-consent' } });
    const piped = await runCli(['explain', '-'], { env: e, input: 'Error code: ErrorAccessDenied Error message: Access is denied. Check credentials and try again. GET https://graph.microsoft.com/v1.0/users/a@b.test/mailFolders/inbox 403 : Forbidden' });
    expect(piped.stdout).toContain('communication was established with the server');
    const unknown = await runCli(['explain', 'the printer is on fire'], { env: e });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('mailctl doctor');
    expect((await runCli(['explain'], { env: e })).code).toBe(2);
  });
});

describe('mailctl reset-oauth: bad input', () => {
  const tempDir = useTempDirs();

  it('says what to reset, and refuses accounts without OAuth', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'a', '--url', 'https://a.test', '--environment', 'dev'], { env });
    const cases: Array<[string[], RegExp]> = [
      [['reset-oauth'], /outbound, inbound TABLE, or --all/],
      [['reset-oauth', 'inbound'], /Name the table/],
      [['reset-oauth', 'inbound', 'nope'], /no inbound account for the table "nope"/],
      [['reset-oauth', 'outbound'], /No outbound server is configured yet/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { env });
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    await runCli(['configure', 'server', '--host', 'h.test', '--security', 'none', '--auth', 'none', '--from', 'a@a.test', '--no-verify'], { env });
    const notOauth = await runCli(['reset-oauth', 'outbound'], { env });
    expect(notOauth.code).toBe(2);
    expect(notOauth.stderr).toContain('does not log in with OAuth 2.0');
  });
});
