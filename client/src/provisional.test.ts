import { describe, expect, it } from 'vitest';
import { DEFAULT_PROVISIONAL, decideProvisional, type ProvisionalInput } from './provisional';

const HOUR = 3600_000;
const now = new Date('2026-03-15T10:00:00Z');
const base: ProvisionalInput = {
  now,
  lastSignInAt: new Date(now.getTime() - 2 * HOUR),
  priorGrant: true,
  pending: null,
  autodeskId: 'ada@example.com',
  product: 'autocad',
  newId: () => 'p-1',
};

describe('decideProvisional', () => {
  it('grants 4 hours after a recent sign-in', () => {
    const d = decideProvisional(base, DEFAULT_PROVISIONAL);
    expect(d).toMatchObject({ kind: 'grant', record: { id: 'p-1', launchedAt: now.toISOString() } });
    if (d.kind === 'grant') expect(Date.parse(d.record.expiresAt) - now.getTime()).toBe(4 * HOUR);
  });

  it('never runs past 24 hours after the sign-in', () => {
    const d = decideProvisional({ ...base, lastSignInAt: new Date(now.getTime() - 22 * HOUR) }, DEFAULT_PROVISIONAL);
    if (d.kind !== 'grant') throw new Error(d.kind);
    expect(Date.parse(d.record.expiresAt) - now.getTime()).toBe(2 * HOUR);
  });

  it('reuses the pending one while it lasts, and refuses once it is over', () => {
    const pending = {
      id: 'p-0',
      autodeskId: 'ada@example.com',
      product: 'autocad',
      launchedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + HOUR).toISOString(),
    };
    expect(decideProvisional({ ...base, pending }, DEFAULT_PROVISIONAL)).toMatchObject({ kind: 'reuse', record: { id: 'p-0' } });
    expect(decideProvisional({ ...base, pending, now: new Date(now.getTime() + HOUR) }, DEFAULT_PROVISIONAL).kind).toBe('refuse');
  });

  it('refuses without a sign-in, an old one, one in the future, no prior grant, or when turned off', () => {
    const refuse = (input: Partial<ProvisionalInput>, policy = DEFAULT_PROVISIONAL) =>
      decideProvisional({ ...base, ...input }, policy).kind;
    expect(refuse({ lastSignInAt: null })).toBe('refuse');
    expect(refuse({ lastSignInAt: new Date(now.getTime() - 24 * HOUR - 1) })).toBe('refuse');
    expect(refuse({ lastSignInAt: new Date(now.getTime() + HOUR) })).toBe('refuse');
    expect(refuse({ priorGrant: false })).toBe('refuse');
    expect(refuse({ priorGrant: false }, { ...DEFAULT_PROVISIONAL, requirePriorGrant: false })).toBe('grant');
    expect(refuse({}, { ...DEFAULT_PROVISIONAL, enabled: false })).toBe('refuse');
  });
});
