import { describe, expect, it } from 'vitest';
import { type AccessQuestion, decideAccess, type LicenseFact, type MembershipFact } from './precedence';

const now = new Date('2026-06-01T12:00:00Z');
const me = 'ann@example.com';
const autocad = { key: 'autocad', name: 'AutoCAD' };
const license = (kind: LicenseFact['kind'], over: Partial<LicenseFact> = {}): LicenseFact => ({
  id: `${kind}-1`,
  kind,
  autodeskId: me,
  product: 'autocad',
  startsAt: '2026-01-01T00:00:00Z',
  endsAt: '2027-01-01T00:00:00Z',
  ...over,
});
const member = (over: Partial<MembershipFact> = {}): MembershipFact => ({
  teamId: 'tm_1',
  teamName: 'Acme',
  status: 'active',
  guest: false,
  allProducts: false,
  products: ['autocad'],
  defaults: [],
  ...over,
});
const ask = (over: Partial<AccessQuestion>) =>
  decideAccess({
    autodeskId: me,
    productKey: 'autocad',
    product: autocad,
    licenses: [],
    memberships: [],
    requestedTeam: null,
    now,
    ...over,
  });

describe('R9 precedence', () => {
  it('R9: subscription, then trial, then Flex', () => {
    const all = { licenses: [license('trial'), license('subscription')], memberships: [member()] };
    expect(ask(all)).toMatchObject({ granted: true, source: 'subscription' });
    expect(ask({ ...all, licenses: [license('trial')] })).toMatchObject({ granted: true, source: 'trial' });
    expect(ask({ memberships: [member()] })).toMatchObject({ granted: true, source: 'flex' });
  });

  it('R9: a trial that has ended gives way to Flex', () => {
    const ended = license('trial', { endsAt: '2026-06-01T12:00:00Z' });
    expect(ask({ licenses: [ended], memberships: [member()] })).toMatchObject({ source: 'flex' });
  });

  it('R9: a subscription that has not started yet does not count', () => {
    const future = license('subscription', { startsAt: '2026-07-01T00:00:00Z' });
    expect(ask({ licenses: [future], memberships: [] })).toMatchObject({ granted: false, code: 'no-access' });
  });

  it('R9: a subscription counts from its first instant, written with or without milliseconds', () => {
    for (const startsAt of ['2026-06-01T12:00:00Z', '2026-06-01T12:00:00.000Z']) {
      const starting = license('subscription', { startsAt });
      expect(ask({ licenses: [starting], memberships: [member()] })).toMatchObject({ granted: true, source: 'subscription' });
    }
  });

  it('R10: a license of another Autodesk ID never counts', () => {
    const other = license('subscription', { autodeskId: 'ann.other@example.com' });
    expect(ask({ licenses: [other], memberships: [member()] })).toMatchObject({ source: 'flex' });
  });

  it('unknown product is refused before anything else', () => {
    expect(ask({ product: null, productKey: 'nope' })).toMatchObject({ granted: false, code: 'unknown-product' });
  });
});

describe('R11-R13 Flex access', () => {
  it('R11: pending and expired invitations cannot launch', () => {
    expect(ask({ memberships: [member({ status: 'invited' })] })).toMatchObject({ code: 'invitation-pending', rule: 'R11' });
    const expired = ask({ memberships: [member({ status: 'expired' })] });
    expect(expired).toMatchObject({ code: 'invitation-pending' });
    if (!expired.granted) expect(expired.reason).toMatch(/resend/);
  });

  it('R12: a product not selected is refused; "all products" grants anything', () => {
    expect(ask({ memberships: [member({ products: ['revit'] })] })).toMatchObject({ code: 'no-access', rule: 'R12' });
    expect(ask({ memberships: [member({ products: [], allProducts: true })] })).toMatchObject({ granted: true });
  });

  it('R13: defaults grant members but never guests', () => {
    const viaDefaults = member({ products: [], defaults: ['autocad'] });
    expect(ask({ memberships: [viaDefaults] })).toMatchObject({ granted: true, source: 'flex' });
    expect(ask({ memberships: [{ ...viaDefaults, guest: true }] })).toMatchObject({ granted: false, rule: 'R13' });
    // A guest refused a product that is no default is told R12 (assign it), not that defaults skip guests.
    const guest = ask({ memberships: [member({ guest: true, products: ['revit'], defaults: ['maya'] })] });
    expect(guest).toMatchObject({ granted: false, code: 'no-access', rule: 'R12' });
    if (!guest.granted)
      expect(guest.reason).toBe(`Team Acme does not give ${me} access to AutoCAD through Flex; a team admin can assign it.`);
  });

  it('a member of several teams must name one', () => {
    const two = [member(), member({ teamId: 'tm_2', teamName: 'Beta' })];
    expect(ask({ memberships: two })).toMatchObject({ granted: false, code: 'invalid-request' });
  });

  it('R11: a pending or expired invitation is not a team to choose from: the one active team decides', () => {
    const pending = member({ teamId: 'tm_c', teamName: 'Gamma', status: 'invited' });
    const expired = member({ teamId: 'tm_d', teamName: 'Delta', status: 'expired' });
    expect(ask({ memberships: [member(), pending, expired] })).toMatchObject({
      granted: true,
      source: 'flex',
      team: { teamId: member().teamId },
    });
    // Only invitations: they say so, whichever is first.
    expect(ask({ memberships: [pending, expired] })).toMatchObject({ granted: false, code: 'invitation-pending', rule: 'R11' });
  });
});
