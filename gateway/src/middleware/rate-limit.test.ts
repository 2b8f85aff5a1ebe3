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
});
