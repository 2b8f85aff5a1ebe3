/** All time in the gateway comes from a Clock so that tests can move it (FLEXGATE_TEST_CLOCK). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock set to an instant that then keeps running at real speed, so that durations measured
 * across a test (R7a's 5 minutes) still pass naturally after a jump.
 */
export class AdjustableClock implements Clock {
  private offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  now(): Date {
    return new Date(this.base.now().getTime() + this.offsetMs);
  }
  set(instant: Date): void {
    this.offsetMs = instant.getTime() - this.base.now().getTime();
  }
}
