/** Time comes in through this, so tests (and the daemon's retry schedule) can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
