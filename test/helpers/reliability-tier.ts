/**
 * The reliability suite's size: `full` under `npm run test:reliability`, the smaller
 * `ci` tier inside `npm test` (so CI stays well under its time limit).
 */
export const reliabilityTier: 'full' | 'ci' = process.env.MAILCTL_RELIABILITY_TIER === 'full' ? 'full' : 'ci';

/** Picks the full-tier or CI-tier figure. */
export function bySize<T>(full: T, ci: T): T {
  return reliabilityTier === 'full' ? full : ci;
}
