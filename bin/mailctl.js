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
const code = await main(args);
// process.exit() drops what a pipe has not taken yet (a long --json read by a slower
// process was cut at 64 KB and more): wait until stdout and stderr have flushed. A reader
// that went away (`| head`) ends the wait too.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => {
  stream.on('error', resolve);
  stream.write('', resolve);
})));
process.exit(code);
