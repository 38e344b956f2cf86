import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:reliability`: the reliability suite at full size (crash rounds, outages,
// thousands of hostile emails). `npm test` runs the same files at the smaller CI tier.
export default mergeConfig(base, defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    env: { MAILCTL_RELIABILITY_TIER: 'full' },
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
}));
