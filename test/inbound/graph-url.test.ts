import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphUrlProblem } from '../../src/inbound/graph-url.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue 14, item 6: the bearer token goes to the Graph URL with every request, so plain http
// to another machine would send it across the network readable. configure accepted it, and
// the daemon used it.
describe('the Graph URL the token is sent to', () => {
  const tempDir = useTempDirs();

  it('https anywhere; plain http only to this machine; no user info; nothing else', () => {
    expect(graphUrlProblem('https://graph.microsoft.com/v1.0')).toBeNull();
    expect(graphUrlProblem('https://graph.microsoft.us/v1.0')).toBeNull();
    for (const local of ['http://127.0.0.1:8080/v1.0', 'http://localhost:3000', 'http://[::1]:9/v1.0', 'http://127.8.9.10/']) expect(graphUrlProblem(local), local).toBeNull();
    for (const remote of ['http://graph.microsoft.com/v1.0', 'http://10.0.0.5/v1.0', 'http://localhost.evil.test/', 'http://127.0.0.1.evil.test/']) expect(graphUrlProblem(remote), remote).toMatch(/plain http to another machine/);
    expect(graphUrlProblem('https://user:pw@graph.microsoft.com/v1.0')).toMatch(/no user name or password/);
    expect(graphUrlProblem('ftp://graph.microsoft.com/')).toMatch(/not an http\(s\) URL/);
    expect(graphUrlProblem('graph.microsoft.com')).toMatch(/not a URL/);
  });

  it('configure refuses plain http to another machine; a hand-edited config is refused by the daemon, the token never sent', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], ['tables', 'add', 'contracts']]) {
      expect((await runCli(args, { env })).code).toBe(0);
    }
    const configure = (url: string) => runCli(['configure', 'inbound', 'contracts', '--protocol', 'graph', '--graph-url', url, '--username', 'c@acme.test', '--mailbox', 'c@acme.test',
      '--folder', 'inbox', '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--tenant', 'acme.onmicrosoft.com', '--client-id', 'app', '--secret-stdin',
      '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], { env, input: 'client-secret' });
    const refused = await configure('http://graph.evil.test/v1.0');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/plain http to another machine/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    const accepted = await configure('https://graph.microsoft.com/v1.0');
    expect(accepted.code, accepted.stderr).toBe(0);

    const path = join(home, 'config.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('https://graph.microsoft.com/v1.0', 'http://graph.evil.test/v1.0'), { mode: 0o600 });
    const once = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
    expect(once.code).not.toBe(0);
    expect(once.stdout + once.stderr).toMatch(/plain http to another machine/);
  });
});
