import { describe, expect, it } from 'vitest';
import { Revocations } from './revocations';

const AT = '2026-12-01T09:00:02.500Z';
const second = Math.floor(Date.parse(AT) / 1000);
const token = (claims: { rev?: number; iat?: number; fam?: string; sub?: string } = {}) => ({
  sub: 'ann@example.com',
  iat: second,
  ...claims,
});

describe('an operator revocation ends the sign-ins made before it, by order', () => {
  it('a token whose sign-in came after the revocation lives, in the same second; one from before is refused', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 7 });
    expect(r.isRevoked(token({ rev: 7 }))).toBe(false);
    expect(r.isRevoked(token({ rev: 6 }))).toBe(true);
    expect(r.isRevoked(token({ rev: 0 }))).toBe(true);
    // Another user's revocation ends nothing of Ann's.
    expect(r.isRevoked(token({ sub: 'bob@example.com', rev: 0 }))).toBe(false);
  });

  it('the last revocation decides, whichever order they are applied in', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 9 });
    r.apply({ kind: 'user', subject: 'ann@example.com', at: '2026-12-01T09:00:01.000Z', seq: 4 });
    expect(r.isRevoked(token({ rev: 4 }))).toBe(true);
    expect(r.isRevoked(token({ rev: 9 }))).toBe(false);
  });

  it('a token without a sign-in order, as an older gateway made it, is judged by its second', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 7 });
    expect(r.isRevoked(token({ iat: second }))).toBe(true);
    expect(r.isRevoked(token({ iat: second + 1 }))).toBe(false);
  });

  it('a signed-out family is refused whatever its order', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'family', subject: 'fam_1', at: AT, seq: 3 });
    expect(r.isRevoked(token({ fam: 'fam_1', rev: 99 }))).toBe(true);
    expect(r.isRevoked(token({ fam: 'fam_2', rev: 0 }))).toBe(false);
  });
});
