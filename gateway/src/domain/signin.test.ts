import { describe, expect, it } from 'vitest';
import { delayAfter, FREE_FAILURES, MAX_DELAY_MS, waitSeconds } from './signin';

describe('sign-in delays after failures', () => {
  it('lets a person mistype a few times without waiting', () => {
    for (let n = 0; n < FREE_FAILURES; n++) expect(delayAfter(n)).toBe(0);
  });

  it('doubles the wait with each further failure, up to the cap', () => {
    expect(delayAfter(FREE_FAILURES)).toBe(1000);
    expect(delayAfter(FREE_FAILURES + 1)).toBe(2000);
    expect(delayAfter(FREE_FAILURES + 5)).toBe(32_000);
    expect(delayAfter(FREE_FAILURES + 40)).toBe(MAX_DELAY_MS);
  });

  it('bounds the guesses per account per day to a few hundred, however many processes ask', () => {
    // With the cap reached after ~10 failures, a day allows about 96 more.
    let at = 0;
    let guesses = 0;
    while (at < 24 * 3600_000) {
      guesses++;
      at += Math.max(1, delayAfter(guesses));
    }
    expect(guesses).toBeLessThan(120);
  });

  it('rounds the wait up to whole seconds and says 0 once it has passed', () => {
    const now = new Date('2026-12-01T10:00:00.000Z');
    expect(waitSeconds('2026-12-01T10:00:01.200Z', now)).toBe(2);
    expect(waitSeconds('2026-12-01T09:59:59.000Z', now)).toBe(0);
    expect(waitSeconds(null, now)).toBe(0);
  });
});
