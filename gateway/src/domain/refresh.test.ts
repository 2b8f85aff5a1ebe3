import { describe, expect, it } from 'vitest';
import { decideRefresh, RACE_GRACE_MS } from './refresh';

const now = new Date('2026-12-01T12:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms).toISOString();
const fresh = { expiresAt: later(86_400_000), usedAt: null, familyRevoked: false };

describe('refresh token rotation (RFC 9700 4.14)', () => {
  it('an unused, unexpired token of a live family rotates', () => {
    expect(decideRefresh({ token: fresh }, now)).toBe('rotate');
  });
  it('a secret that is not ours, an expired token, a revoked family are refused', () => {
    expect(decideRefresh({ token: undefined }, now)).toBe('unknown');
    expect(decideRefresh({ token: { ...fresh, expiresAt: later(0) } }, now)).toBe('expired');
    expect(decideRefresh({ token: { ...fresh, familyRevoked: true } }, now)).toBe('revoked');
  });
  it('a second use is reuse (the family dies), unless it comes within seconds of the first (a client racing itself)', () => {
    expect(decideRefresh({ token: { ...fresh, usedAt: later(-RACE_GRACE_MS - 1) } }, now)).toBe('reused');
    expect(decideRefresh({ token: { ...fresh, usedAt: later(-1000) } }, now)).toBe('raced');
  });
  it('a revoked family is refused even for a token never used', () => {
    expect(decideRefresh({ token: { ...fresh, familyRevoked: true, usedAt: null } }, now)).toBe('revoked');
  });
});
