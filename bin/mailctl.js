#!/usr/bin/env node
// The only place that exits the process: the CLI returns an exit code, and exiting here
// (rather than waiting for the event loop) stops an idle socket or keyring connection
// from keeping a finished command alive.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Scripts ask this often: answer without loading the CLI (the start-up benchmark's target).
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}
const { main } = await import('../dist/cli.js');
process.exit(await main(args));
