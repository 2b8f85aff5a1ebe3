import type { AllowanceClaims } from '@flexgate/shared';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROVISIONAL, decideProvisional, type ProvisionalInput, type ProvisionalRecord, slotOf } from './provisional';

const HOUR = 3600_000;
const now = new Date('2026-03-15T10:00:00Z');
const sec = (ms: number) => Math.floor(ms / 1000);
const allowance: AllowanceClaims = {
  iss: 'flexgate',
  aud: 'flexgate:offline-allowance',
  sub: 'ada@example.com',
  aid: 'alw_abc',
  iat: sec(now.getTime() - 2 * HOUR),
  exp: sec(now.getTime() + 22 * HOUR),
  products: [
    { product: 'autocad', team: 'team-1' },
    { product: 'revit', team: 'team-1' },
    { product: 'revit', team: 'team-2' },
    { product: 'maya', team: null },
  ],
  launches: 3,
};
const base: ProvisionalInput = {
  now,
  allowance,
  records: [],
  autodeskId: 'ada@example.com',
  product: 'autocad',
  skewMs: 30_000,
};
const at = (ms: number) => new Date(now.getTime() + ms);
const decide = (input: Partial<ProvisionalInput>, policy = DEFAULT_PROVISIONAL) => decideProvisional({ ...base, ...input }, policy);
const reason = (input: Partial<ProvisionalInput>) => {
  const d = decide(input);
  return d.kind === 'refuse' ? d.reason : `not refused: ${d.kind}`;
};
function granted(input: Partial<ProvisionalInput>): ProvisionalRecord {
  const d = decide(input);
  if (d.kind !== 'grant') throw new Error(`expected a grant, got ${JSON.stringify(d)}`);
  return d.record;
}

describe('decideProvisional: only what the allowance grants', () => {
  it('grants slot 0 of the allowance for a listed product, with the team it lists, for 4 hours', () => {
    const r = granted({});
    expect(r).toMatchObject({ id: 'alw_abc.0', product: 'autocad', team: 'team-1', launchedAt: now.toISOString() });
    expect(Date.parse(r.expiresAt) - now.getTime()).toBe(4 * HOUR);
  });

  it('never runs past the allowance: 1 hour before its exp a launch lasts 1 hour, and at exp none is granted', () => {
    const late = at(21 * HOUR);
    expect(Date.parse(granted({ now: late }).expiresAt)).toBe(allowance.exp * 1000);
    expect(reason({ now: new Date(allowance.exp * 1000) })).toMatch(/offline allowance ended at/);
    expect(reason({ now: at(30 * 24 * HOUR) })).toMatch(/offline allowance ended at/);
  });

  it('nothing without an allowance, for a product it does not list, or when turned off', () => {
    expect(reason({ allowance: null })).toMatch(/No offline allowance/);
    expect(reason({ product: 'inventor' })).toMatch(/inventor is not in the offline allowance/);
    expect(decide({}, { ...DEFAULT_PROVISIONAL, enabled: false })).toMatchObject({ kind: 'refuse', reason: /turned off/ });
  });

  it('a clock earlier than the allowance grants nothing; one a little behind the gateway is dated at its iat', () => {
    expect(reason({ now: new Date(allowance.iat * 1000 - 60_000) })).toMatch(/clock is earlier/);
    const r = granted({ now: new Date(allowance.iat * 1000 - 10_000) });
    expect(r.launchedAt).toBe(new Date(allowance.iat * 1000).toISOString());
  });

  it('teams: the one listed, a named one that is listed, a subscription for any team; several need a name', () => {
    expect(reason({ product: 'revit' })).toMatch(/several teams: name the team/);
    expect(granted({ product: 'revit', team: 'team-2' }).team).toBe('team-2');
    expect(reason({ product: 'revit', team: 'team-3' })).toMatch(/not allowed offline through team team-3/);
    expect(granted({ product: 'maya' }).team).toBeUndefined();
    expect(granted({ product: 'maya', team: 'team-9' }).team).toBe('team-9');
  });

  it('a relaunch while one runs reuses it; the next takes the next slot; past the last slot nothing', () => {
    const first = granted({});
    expect(decide({ records: [first], now: at(HOUR) })).toMatchObject({ kind: 'reuse', record: { id: 'alw_abc.0' } });
    const second = granted({ records: [first], now: at(4 * HOUR) });
    expect(second.id).toBe('alw_abc.1');
    const third = granted({ records: [first, second], product: 'maya', now: at(4 * HOUR) });
    expect(third.id).toBe('alw_abc.2');
    expect(reason({ records: [first, second, third], now: at(8 * HOUR) })).toMatch(/All 3 provisional launches/);
  });

  it("a relaunch through another team does not reuse the running one: that team's own slot, charged to it", () => {
    const viaTeam1 = granted({ product: 'revit', team: 'team-1' });
    const viaTeam2 = decide({ records: [viaTeam1], product: 'revit', team: 'team-2', now: at(HOUR) });
    expect(viaTeam2).toMatchObject({ kind: 'grant', record: { id: 'alw_abc.1', product: 'revit', team: 'team-2' } });
    // Through team 1 again: the one already running.
    expect(decide({ records: [viaTeam1], product: 'revit', team: 'team-1', now: at(HOUR) })).toMatchObject({
      kind: 'reuse',
      record: { id: 'alw_abc.0', team: 'team-1' },
    });
  });

  it('records deleted only give back slot ids already used; an edited record never runs past the allowance', () => {
    const first = granted({});
    // The user deleted provisional/*: the same slot id again, which the gateway charges once.
    expect(granted({ records: [], now: at(5 * HOUR) }).id).toBe(first.id);
    // Records of another allowance do not take this one's slots.
    expect(granted({ records: [{ ...first, id: 'alw_old.0', expiresAt: now.toISOString() }] }).id).toBe('alw_abc.0');
    const edited = { ...first, expiresAt: '2100-01-01T00:00:00.000Z' };
    const d = decide({ records: [edited], now: at(HOUR) });
    expect(d).toMatchObject({ kind: 'reuse', record: { expiresAt: new Date(allowance.exp * 1000).toISOString() } });
    expect(reason({ records: [edited], now: new Date(allowance.exp * 1000) })).toMatch(/ended at/);
  });
});

describe('decideProvisional: a day already paid for (`paid`), until its session ends', () => {
  // Civil 3D: team-1 cannot pay another day, but the day of its open session is paid until 6 hours from now.
  const untilMs = now.getTime() + 6 * HOUR;
  const paid: AllowanceClaims = { ...allowance, paid: [{ product: 'civil-3d', team: 'team-1', until: sec(untilMs) }] };
  const decidePaid = (input: Partial<ProvisionalInput>) => decide({ allowance: paid, product: 'civil-3d', ...input });

  it('grants it before the session ends, through its team, for 4 hours cut at the end', () => {
    expect(decidePaid({})).toMatchObject({ kind: 'grant', record: { team: 'team-1', expiresAt: at(4 * HOUR).toISOString() } });
    expect(decidePaid({ now: at(5 * HOUR) })).toMatchObject({ kind: 'grant', record: { expiresAt: new Date(untilMs).toISOString() } });
    expect(decidePaid({ team: 'team-2' })).toMatchObject({ kind: 'refuse', reason: /not allowed offline through team team-2/ });
  });

  it('nothing from its end, records deleted or not; an edited record is cut at it too', () => {
    for (const ms of [6 * HOUR, 6 * HOUR + 1, 10 * HOUR]) {
      expect(decidePaid({ now: at(ms) }), `${ms}`).toMatchObject({ kind: 'refuse', reason: /already paid for ended at/ });
    }
    const first = decidePaid({});
    if (first.kind !== 'grant') throw new Error('expected a grant');
    const edited = { ...first.record, expiresAt: '2100-01-01T00:00:00.000Z' };
    expect(decidePaid({ records: [edited], now: at(HOUR) })).toMatchObject({
      kind: 'reuse',
      record: { expiresAt: new Date(untilMs).toISOString() },
    });
    expect(decidePaid({ records: [edited], now: at(6 * HOUR) })).toMatchObject({ kind: 'refuse' });
  });

  it('never past the allowance either, and an allowance without `paid` (an older gateway) lists no paid day', () => {
    const late: AllowanceClaims = { ...paid, paid: [{ product: 'civil-3d', team: 'team-1', until: allowance.exp + 3600 }] };
    expect(decide({ allowance: late, product: 'civil-3d', now: at(21 * HOUR) })).toMatchObject({
      kind: 'grant',
      record: { expiresAt: new Date(allowance.exp * 1000).toISOString() },
    });
    expect(reason({ product: 'civil-3d' })).toMatch(/civil-3d is not in the offline allowance/);
  });

  it('a product listed for the whole allowance through another team still launches there after the day ends', () => {
    const both: AllowanceClaims = { ...allowance, paid: [{ product: 'autocad', team: 'team-2', until: sec(untilMs) }] };
    expect(decide({ allowance: both, team: 'team-2', now: at(HOUR) })).toMatchObject({ kind: 'grant', record: { team: 'team-2' } });
    expect(decide({ allowance: both, team: 'team-2', now: at(7 * HOUR) })).toMatchObject({ kind: 'refuse' });
    expect(decide({ allowance: both, now: at(7 * HOUR) })).toMatchObject({ kind: 'grant', record: { team: 'team-1' } });
  });
});

describe('slotOf', () => {
  it('reads the slot of an id under its allowance only', () => {
    expect(slotOf('alw_abc.0', 'alw_abc')).toBe(0);
    expect(slotOf('alw_abc.12', 'alw_abc')).toBe(12);
    expect(slotOf('alw_abc.01', 'alw_abc')).toBeNull();
    expect(slotOf('alw_abcd.1', 'alw_abc')).toBeNull();
    expect(slotOf('3f2a-uuid', 'alw_abc')).toBeNull();
  });
});
