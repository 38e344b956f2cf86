// CLI start-up: `mailctl --version` and `--help` against `node -e 0`, median of 15 runs, interleaved.
import { fileURLToPath } from 'node:url';
import { interleaved } from './lib.js';

const bin = fileURLToPath(new URL('../bin/mailctl.js', import.meta.url));

export async function benchStartup() {
  const [baseline, version, help] = interleaved([
    { command: process.execPath, args: ['-e', '0'] },
    { command: process.execPath, args: [bin, '--version'] },
    { command: process.execPath, args: [bin, '--help'] },
  ], 15);
  return [
    { name: 'startup: mailctl --version', value: version, baseline, baselineName: 'node -e 0', ratio: version / baseline, target: 1.5, unit: 'ms' },
    { name: 'startup: mailctl --help', value: help, baseline, baselineName: 'node -e 0', ratio: help / baseline, target: 2, unit: 'ms' },
  ];
}
