import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:reliability`: the reliability suite at full size (crash rounds, outages,
// thousands of hostile emails). `npm test` runs the same files at the smaller CI tier.
const config = mergeConfig(base, defineConfig({
  test: {
    env: { MAILCTL_RELIABILITY_TIER: 'full' },
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
}));
// mergeConfig concatenates arrays: set the file list outright, or every test would run.
config.test!.include = ['test/reliability/**/*.test.ts'];
export default config;
