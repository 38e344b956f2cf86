#!/usr/bin/env node
// The only place that exits the process: the CLI returns an exit code, and
// exiting here (rather than waiting for the event loop) stops an idle socket or
// keyring connection from keeping a finished command alive.
import { main } from '../dist/cli.js';

process.exit(await main(process.argv.slice(2)));
