import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit';

// A clock the test moves: the buckets read time only through it.
function buckets(perMinute: number, maxKeys?: number) {
  const clock = { ms: 0 };
  return { clock, b: new TokenBuckets(perMinute, () => clock.ms, maxKeys) };
}

describe('TokenBuckets', () => {
  it('grants exactly the limit at one instant, then answers the whole seconds until the next token', () => {
    const { clock, b } = buckets(3);
    expect([b.take('a'), b.take('a'), b.take('a')]).toEqual([0, 0, 0]);
    // One token every 20 s.
    expect(b.take('a')).toBe(20);
    expect(b.take('b')).toBe(0);
    clock.ms = 19_999;
    expect(b.take('a')).toBe(1);
    clock.ms = 20_000;
    expect(b.take('a')).toBe(0);
    expect(b.take('a')).toBe(20);
  });

  it('past its key bound, forgets the buckets that are full again (a flood of addresses does not grow it for ever)', () => {
    const { clock, b } = buckets(60, 10);
    for (let i = 0; i < 1023; i++) b.take(`k${i}`);
    expect(b.size).toBe(1023);
    // A second later every bucket has its token back: full, it carries nothing.
    // The 1,024th take looks (not every take: a look walks every key).
    clock.ms = 1000;
    b.take('k0');
    expect(b.size).toBe(1);
    b.take('late');
    expect(b.size).toBe(2);
  });

  it('an hourly bucket lends several tokens at once, gives back what was not used, and says when the next comes', () => {
    const clock = { ms: 0 };
    const b = new TokenBuckets(120, () => clock.ms, 100, 3_600_000);
    expect(b.available('team')).toBe(120);
    expect(b.take('team', 100)).toBe(0);
    expect(b.available('team')).toBe(20);
    // 21 are not there: nothing is taken, and the 21st comes in 30 s (one token every 30 s).
    expect(b.take('team', 21)).toBe(30);
    expect(b.available('team')).toBe(20);
    expect(b.take('team', 20)).toBe(0);
    expect(b.wait('team')).toBe(30);
    clock.ms = 29_999;
    expect([b.available('team'), b.wait('team')]).toEqual([0, 1]);
    clock.ms = 30_000;
    expect([b.available('team'), b.wait('team')]).toEqual([1, 0]);
    // Given back, never past the burst size.
    b.giveBack('team', 50);
    expect(b.available('team')).toBe(51);
    b.giveBack('team', 1000);
    expect(b.available('team')).toBe(120);
    expect(b.wait('other')).toBe(0);
  });
});
