import type { LaunchResponse } from '@flexgate/shared';
import { describe, expect, it } from 'vitest';
import { WarmLaunches } from './warm';

const endsAt = '2026-06-02T10:00:00.000Z';
const answer = (id: string): LaunchResponse => ({
  granted: true,
  source: 'flex',
  charged: 7,
  session: { id, startsAt: '2026-06-01T10:00:00.000Z', endsAt },
  balance: 93,
  team: 'team_a',
  entitlement: 'jwt',
  expiresAt: endsAt,
});
const settled = { untilMs: Date.parse(endsAt), machines: null };
const now = Date.parse('2026-06-01T12:00:00.000Z');

describe('WarmLaunches (FLEXGATE_LAUNCH_CACHE)', () => {
  it('keeps at most its size: the oldest entry goes first, a kept key re-remembered evicts nothing', () => {
    const cache = new WarmLaunches(2);
    cache.remember('a', 1, answer('s_a'), settled);
    cache.remember('b', 1, answer('s_b'), settled);
    cache.remember('b', 2, answer('s_b'), settled);
    expect(cache.size).toBe(2);
    expect(cache.get('a', now, 'm1')?.answer.session.id).toBe('s_a');
    cache.remember('c', 1, answer('s_c'), settled);
    expect(cache.size).toBe(2);
    expect(cache.get('a', now, 'm1')).toBeUndefined();
    expect(cache.get('b', now, 'm1')?.epoch).toBe(2);
    expect(cache.get('c', now, 'm1')?.answer.session.id).toBe('s_c');
    for (let i = 0; i < 100; i++) cache.remember(`k${i}`, 1, answer(`s_${i}`), settled);
    expect(cache.size).toBe(2);
  });

  it('answers charged 0 until the lease ends, and an unsettled day only to the machines known to use it', () => {
    const cache = new WarmLaunches(10);
    const freeWindowEnd = now + 60_000;
    cache.remember('u', 1, answer('s_u'), { untilMs: freeWindowEnd, machines: new Set(['m1']) });
    expect(cache.get('u', now, 'm1')?.answer.charged).toBe(0);
    expect(cache.get('u', now, 'm2')).toBeUndefined();
    expect(cache.get('u', freeWindowEnd, 'm1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing when its size is 0, and nothing but Flex answers', () => {
    const off = new WarmLaunches(0);
    off.remember('a', 1, answer('s_a'), settled);
    expect(off.size).toBe(0);
    const cache = new WarmLaunches(10);
    cache.remember('s', 1, { ...answer('s_s'), source: 'subscription', team: null }, settled);
    expect(cache.get('s', now, 'm1')).toBeUndefined();
  });
});
