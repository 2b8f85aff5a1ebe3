import { randomBytes } from 'node:crypto';
import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP } from '@flexgate/shared';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { mailsTo, newAdmin } from '../harness/admin';
import { balanceOf, buy, joinTeam, ledgerOf, newAccount, newMember, setClock, signIn, type TestUser } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { type Answer, expectStatus, simultaneously } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const HOUR = 3600_000;
const DAY = 86_400_000;
const tag = () => randomBytes(4).toString('hex');

/** A catalog product of its own with `dailyRate`, to bring a team near a line in one launch. */
async function productRated(dailyRate: number): Promise<string> {
  const key = `rate${dailyRate}-${tag()}`;
  expectStatus(await gw.op.post('/v1/products', { key, name: `Rate ${dailyRate} ${key}`, dailyRate }), 201);
  return key;
}

/** 20 launches of one (user, product) reaching the gateway together. */
const simultaneousLaunches = (u: TestUser, product: string) =>
  simultaneously(Array.from({ length: 20 }, () => ({ api: u.api, method: 'POST', path: '/v1/launch', body: { product } })));

/**
 * R7 "simultaneous requests": concurrent launches of one (user, product) all granted, sharing one
 * session, charged once in the answers and once in the team's ledger.
 */
async function expectOneSessionCharged(t: string, autodeskId: string, answers: Answer[], rate: number, balance: number) {
  for (const a of answers) expectStatus(a, 200);
  const sessions = new Set(answers.map((a) => a.body.session.id));
  expect(sessions.size, `sessions opened: ${[...sessions].join(', ')}`).toBe(1);
  expect(answers.map((a) => a.body.charged).sort((x, y) => y - x)).toEqual([rate, ...Array(answers.length - 1).fill(0)]);
  expect(answers.map((a) => a.body.balance)).toEqual(Array(answers.length).fill(balance));
  const charges = (await ledgerOf(gw, t)).filter((e) => e.kind === 'charge' && e.autodeskId === autodeskId);
  // R5: the entry says who spent the tokens (the user whose launch opened the session).
  expect(charges.map((c) => [c.sessionId, c.tokens, c.actor])).toEqual([[[...sessions][0], -rate, `user:${autodeskId}`]]);
  expect(await balanceOf(gw, t)).toBe(balance);
}

// R5 after every test: whatever a test did, each team's balance equals its ledger.
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

describe('precedence (R9, R10)', () => {
  it('R9: subscription beats trial beats Flex, and neither subscription nor trial charges', async () => {
    const t = await team(100);
    const u = await newMember(gw, t, ['autocad', 'revit', 'maya']);
    const until = new Date(T0.getTime() + 30 * 86400_000).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: u.autodeskId, product: 'autocad', endsAt: until }), 201);
    expectStatus(await gw.op.post('/v1/trials', { autodeskId: u.autodeskId, product: 'autocad', endsAt: until }), 201);
    expectStatus(await gw.op.post('/v1/trials', { autodeskId: u.autodeskId, product: 'revit', endsAt: until }), 201);

    const sub = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(sub).toMatchObject({ granted: true, source: 'subscription', charged: 0, session: null, balance: null });
    const trial = expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
    expect(trial).toMatchObject({ granted: true, source: 'trial', charged: 0, session: null });
    const flex = expectStatus(await u.api.post('/v1/launch', { product: 'maya' }), 200);
    expect(flex).toMatchObject({ granted: true, source: 'flex', charged: 9, balance: 91 });
    expect(await balanceOf(gw, t)).toBe(91);
  });

  it('R10: a subscription held by another Autodesk ID does not count', async () => {
    const t = await team(50);
    const u = await newMember(gw, t, ['autocad']);
    const other = await newAccount(gw, 'same.person.other.id');
    const until = new Date(T0.getTime() + 30 * 86400_000).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: other.autodeskId, product: 'autocad', endsAt: until }), 201);
    const r = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(r).toMatchObject({ source: 'flex', charged: 7, balance: 43 });
  });

  it('R9: the first launch after the trial ends consumes tokens', async () => {
    const t = await team(40);
    const u = await newMember(gw, t, ['revit']);
    const trialEnd = new Date(T0.getTime() + 3 * 86400_000);
    expectStatus(await gw.op.post('/v1/trials', { autodeskId: u.autodeskId, product: 'revit', endsAt: trialEnd.toISOString() }), 201);
    expect(expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200)).toMatchObject({ source: 'trial', charged: 0 });
    await setClock(gw, new Date(trialEnd.getTime() + 1000));
    expect(expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200)).toMatchObject({
      source: 'flex',
      charged: 10,
      balance: 30,
    });
  });

  it('R10: Autodesk IDs compare without regard to case: account, member, subscription, trial and sign-in in any case are one ID', async () => {
    const t = await team(100);
    const lower = `case.${tag()}@example.com`;
    const upper = lower.toUpperCase();
    const mixed = lower.replace('case.', 'Case.').replace('@example.com', '@Example.Com');
    const password = `pw-${tag()}-${tag()}`;
    const endsAt = new Date(T0.getTime() + 30 * DAY).toISOString();
    // Each entry point gets the ID in another case: the account in mixed case, the member in
    // capitals, the subscription in capitals, the trial in mixed case, a selection change by path.
    const account = expectStatus(await gw.op.post('/v1/users', { autodeskId: mixed, name: 'Case Test', password }), 201);
    await joinTeam(gw, t, { autodeskId: upper, password }, { products: ['autocad', 'revit'] });
    expectStatus(await gw.op.put(`/v1/teams/${t}/members/${mixed}/products`, { products: ['autocad', 'revit', 'maya'] }), 200);
    const subscription = expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: upper, product: 'autocad', endsAt }), 201);
    const trialLicense = expectStatus(await gw.op.post('/v1/trials', { autodeskId: mixed, product: 'revit', endsAt }), 201);

    for (const signInAs of [lower, upper, mixed]) {
      const u = await signIn(gw, { autodeskId: signInAs, password });
      const sub = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
      expect(sub, `signed in as ${signInAs}`).toMatchObject({ source: 'subscription', charged: 0, session: null, balance: null });
      expect(decodeJwt(sub.entitlement)).toMatchObject({ sub: lower, source: 'subscription' });
      const trial = expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
      expect(trial, `signed in as ${signInAs}`).toMatchObject({ source: 'trial', charged: 0, session: null });
      const flex = expectStatus(await u.api.post('/v1/launch', { product: 'maya' }), 200);
      expect(flex, `signed in as ${signInAs}`).toMatchObject({ source: 'flex', team: t, balance: 91 });
      const mine = expectStatus(await u.api.get('/v1/me/products'), 200) as { key: string; via: string[] }[];
      expect(mine.find((p) => p.key === 'autocad')?.via).toContain('subscription');
      expect(mine.find((p) => p.key === 'revit')?.via).toContain('trial');
    }
    // Nothing but the one Maya day was charged: the licenses were honoured for every spelling.
    const charges = (await ledgerOf(gw, t)).filter((e) => e.kind === 'charge');
    expect(charges.map((c) => [c.autodeskId, c.product, c.tokens])).toEqual([[lower, 'maya', -9]]);
    // Stored and answered in lower case (docs/http.md).
    expect([account.autodeskId, subscription.autodeskId, trialLicense.autodeskId]).toEqual([lower, lower, lower]);
  });

  it.each(['subscription', 'trial'] as const)(
    'R9/R16: a %s starting while a Flex session is open wins at the first launch after its start, even after warm relaunches',
    async (source) => {
      const t = await team(100);
      const u = await newMember(gw, t, ['autocad']);
      const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
      expect(first).toMatchObject({ source: 'flex', charged: 7, balance: 93 });
      const startsAt = new Date(T0.getTime() + 2 * HOUR);
      const endsAt = new Date(T0.getTime() + 30 * DAY);
      expectStatus(
        await gw.op.post(`/v1/${source}s`, {
          autodeskId: u.autodeskId,
          product: 'autocad',
          startsAt: startsAt.toISOString(),
          endsAt: endsAt.toISOString(),
        }),
        201,
      );
      // R16: what the user may install says the same: Flex only, until the license starts.
      const via = async () =>
        (expectStatus(await u.api.get('/v1/me/products'), 200) as { key: string; via: string[] }[]).find((p) => p.key === 'autocad')?.via;
      expect(await via()).toEqual(['flex']);
      // Not started yet: the open Flex session answers, uncharged. Relaunched three times after the
      // free window (the first settles the day, R7a, and its answer then holds to the session's end,
      // past the license's start), so that whatever the gateway keeps of a warm answer is kept, and then used.
      await setClock(gw, new Date(T0.getTime() + 10 * 60_000));
      for (let i = 0; i < 3; i++) {
        expect(expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({
          source: 'flex',
          charged: 0,
          session: { id: first.session.id },
        });
      }
      // Time alone moves it past the start (nothing is written in between): the license wins (R9).
      await setClock(gw, new Date(startsAt.getTime() + 1000));
      const next = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
      expect(next).toMatchObject({ source, charged: 0, session: null, balance: null, team: null });
      expect(decodeJwt(next.entitlement)).toMatchObject({ source, sid: null });
      expect(await balanceOf(gw, t)).toBe(93);
      expect(await via()).toEqual([source, 'flex']);
    },
  );

  it('R9/R16: a subscription entitlement never outlives the subscription, nor do its listing and offline allowance', async () => {
    const u = await signIn(gw, await newAccount(gw));
    const ends = new Date(T0.getTime() + 2 * 3600_000).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: u.autodeskId, product: 'civil-3d', endsAt: ends }), 201);
    const r = expectStatus(await u.api.post('/v1/launch', { product: 'civil-3d' }), 200);
    expect(Date.parse(r.expiresAt)).toBeLessThanOrEqual(Date.parse(ends));
    // R16: listed while it runs; once it ended, the product is nowhere in what the user may install,
    // nor in an offline allowance (which would let the client grant it during an outage).
    const mine = async () => (expectStatus(await u.api.get('/v1/me/products'), 200) as { key: string }[]).map((p) => p.key);
    const offline = async () => expectStatus(await u.api.post('/v1/offline-allowance', {}), 201).products;
    expect(await mine()).toEqual(['civil-3d']);
    expect(await offline()).toEqual([{ product: 'civil-3d', team: null }]);
    await setClock(gw, new Date(Date.parse(ends) + 1000));
    expect(await mine()).toEqual([]);
    expect(await offline()).toEqual([]);
  });
});

describe('daily charge (R6, R7, R8)', () => {
  it('R7 + R7a: two machines launching at once share one session and are both recorded: the opener closing quickly refunds nothing', async () => {
    const t = await team(100);
    for (let round = 0; round < 3; round++) {
      const u = await newMember(gw, t, ['autocad']);
      const machines = Array.from({ length: 10 }, (_, k) => (k % 2 === 0 ? 'ws-A' : 'ws-B'));
      const answers = await simultaneously(
        machines.map((machine) => ({ api: u.api, method: 'POST', path: '/v1/launch', body: { product: 'autocad', machine } })),
      );
      // Each round's day is refunded at its end: every round starts from 100.
      await expectOneSessionCharged(t, u.autodeskId, answers, 7, 93);
      // Whichever machine's launch opened the session, the other one's launch that found it uses it too.
      const opener = machines[answers.findIndex((a) => a.body.charged === 7)] as string;
      const other = opener === 'ws-A' ? 'ws-B' : 'ws-A';
      const end = (machine: string) => u.api.post(`/v1/sessions/${answers[0]?.body.session.id}/end`, { machine });
      expect(expectStatus(await end(opener), 200), `round ${round}`).toMatchObject({ refunded: 0 });
      expect(await balanceOf(gw, t)).toBe(93);
      expect(expectStatus(await end(other), 200)).toMatchObject({ charged: 0, refunded: 7 });
      expect(await balanceOf(gw, t)).toBe(100);
      // Ending the void session again answers the same; the refund's entry says whose day it was.
      expect(expectStatus(await end(other), 200)).toMatchObject({ charged: 0, refunded: 7 });
      const refunds = (await ledgerOf(gw, t)).filter((e) => e.kind === 'refund' && e.autodeskId === u.autodeskId);
      expect(refunds.map((e) => [e.sessionId, e.tokens, e.actor])).toEqual([[answers[0]?.body.session.id, 7, `user:${u.autodeskId}`]]);
    }
  });

  it('R7a + R2: a day refunded after its lot expired within the five minutes leaves again through an expiry entry', async () => {
    const t = await team();
    // Bought a year ago less two minutes: it expires two minutes after the launch, which draws from it first.
    const expiring = await buy(gw, t, 20, new Date(T0.getTime() - 365 * DAY + 2 * 60_000).toISOString());
    await buy(gw, t, 50);
    const u = await newMember(gw, t, ['autocad']);
    const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(first).toMatchObject({ charged: 7, balance: 63 });
    await setClock(gw, new Date(T0.getTime() + 3 * 60_000));
    expect(expectStatus(await u.api.post(`/v1/sessions/${first.session.id}/end`), 200)).toMatchObject({ refunded: 7 });
    // The 7 went back to a lot that no longer counts: its 20 leave the balance through the ledger (R5).
    const expiries = (await ledgerOf(gw, t)).filter((e) => e.kind === 'expiry');
    expect(expiries.map((e) => [e.lotId, e.tokens])).toEqual([[expiring.lotId, -20]]);
    expect(await balanceOf(gw, t)).toBe(50);
  });

  it("R7: a relaunch naming the user's other team answers the open session with its own team and that team's balance", async () => {
    const a = await team(100);
    const b = await team(50);
    const u = await newMember(gw, a, ['autocad']);
    await joinTeam(gw, b, u, { products: ['autocad'] });
    const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', team: a }), 200);
    expect(first).toMatchObject({ team: a, charged: 7, balance: 93 });
    // With an Idempotency-Key (the stock client sends one with every launch) the relaunch goes
    // through a charge group, which finds the session; without one, the open session answers at once.
    for (const headers of [{ 'idempotency-key': `relaunch-${tag()}` }, {}] as Record<string, string>[]) {
      const again = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', team: b }, headers), 200);
      expect(again).toMatchObject({ session: { id: first.session.id }, team: a, charged: 0, balance: 93 });
    }
    expect(await balanceOf(gw, b)).toBe(50);
  });

  it('R7: 50 concurrent launches of one product by one user charge once and return one session', async () => {
    const t = await team(100);
    const u = await newMember(gw, t, ['revit']);
    const answers = await Promise.all(Array.from({ length: 50 }, () => u.api.post('/v1/launch', { product: 'revit', machine: 'ws-1' })));
    for (const a of answers) expectStatus(a, 200);
    const sessions = new Set(answers.map((a) => a.body.session.id));
    expect(sessions.size).toBe(1);
    expect(answers.reduce((s, a) => s + a.body.charged, 0)).toBe(10);
    expect(await balanceOf(gw, t)).toBe(90);
    const charges = (await ledgerOf(gw, t)).filter((e) => e.kind === 'charge');
    expect(charges).toHaveLength(1);
  });

  it('R7 + R19: 20 concurrent launches whose charge crosses the low-balance line open one session and charge once', async () => {
    // The charge that takes the team below a fifth of its tokens records the crossing and e-mails
    // it (R19); on SQLite it leaves the grouped charges for the general path. Whichever path each
    // of the 20 takes, they share the one session (R7).
    const big = await productRated(75);
    const t = await team(100);
    const admin = await newAdmin(gw, [t]);
    const other = await newMember(gw, t, [big]);
    expect(expectStatus(await other.api.post('/v1/launch', { product: big }), 200).balance).toBe(25); // 25%: above the line
    const u = await newMember(gw, t, ['autocad']);
    const answers = await simultaneousLaunches(u, 'autocad');
    await expectOneSessionCharged(t, u.autodeskId, answers, 7, 18); // 18 of 100: below 20
    expect((await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance')).toHaveLength(1);
  });

  it('R7 + R2: 20 concurrent launches just after a lot expired with tokens left open one session and charge once', async () => {
    // The lot's year ends a minute after T0, with tokens unused (30, then a single one) and nothing
    // written since: the first charge after it must write its expiry entry first (on SQLite: the general path).
    for (const left of [30, 1]) {
      await setClock(gw, T0);
      const t = await team();
      const expiring = await buy(gw, t, left, '2025-03-15T10:01:00Z');
      expect(expiring.expiresAt).toBe('2026-03-15T10:01:00.000Z');
      const fresh = await buy(gw, t, 100);
      const u = await newMember(gw, t, ['autocad']);
      await setClock(gw, new Date(T0.getTime() + 2 * 60_000));
      const answers = await simultaneousLaunches(u, 'autocad');
      await expectOneSessionCharged(t, u.autodeskId, answers, 7, 93);
      const ledger = await ledgerOf(gw, t);
      expect(ledger.filter((e) => e.kind === 'expiry').map((e) => [e.lotId, e.tokens])).toEqual([[expiring.lotId, -left]]);
      expect(ledger.filter((e) => e.kind === 'charge').map((e) => e.lotId)).toEqual([fresh.lotId]);
      // Written by the charge, not left to the ledger read: the chain never lists a charge before an expiry dated earlier.
      expect(ledger.map((e) => e.kind)).toEqual(['purchase', 'purchase', 'expiry', 'charge']);
    }
  });

  it('R2 + R5: a lot whose year ends with a single token left gives it up through an expiry entry', async () => {
    const t = await team();
    // Bought a year ago less two minutes: 8 tokens, of which a launch takes 7.
    const lot = await buy(gw, t, 8, new Date(T0.getTime() - 365 * DAY + 2 * 60_000).toISOString());
    const u = await newMember(gw, t, ['autocad']);
    expect(expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ charged: 7, balance: 1 });
    await setClock(gw, new Date(T0.getTime() + 10 * 60_000));
    expect(await balanceOf(gw, t)).toBe(0);
    const ledger = await ledgerOf(gw, t);
    expect(ledger.map((e) => [e.kind, e.lotId, e.tokens])).toEqual([
      ['purchase', lot.lotId, 8],
      ['charge', lot.lotId, -7],
      ['expiry', lot.lotId, -1],
    ]);
    expect(ledger.find((e) => e.kind === 'expiry')?.at).toBe(lot.expiresAt);
  });

  it('R7: relaunching from another machine within the 24 hours charges nothing and returns the same session', async () => {
    const t = await team(30);
    const u = await newMember(gw, t, ['autocad']);
    const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', machine: 'laptop' }), 200);
    await setClock(gw, new Date(T0.getTime() + 23 * 3600_000));
    const again = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', machine: 'desktop' }), 200);
    expect(again.session.id).toBe(first.session.id);
    expect(again.charged).toBe(0);
    // R7a: the opening launch got a lease of 10 minutes; the relaunch after the free window settled
    // the day, and its entitlement runs to the session's end.
    const lease = Math.floor((Date.parse(first.session.startsAt) + 10 * 60_000) / 1000) * 1000;
    expect(first.expiresAt).toBe(new Date(lease).toISOString());
    const end = Math.floor(Date.parse(first.session.endsAt) / 1000);
    expect(again.expiresAt).toBe(new Date(end * 1000).toISOString());
    expect(decodeJwt(again.entitlement)).toMatchObject({ sid: first.session.id, exp: end });
    // Signed again to the session's end, the settled entitlement says everything else the lease said.
    const { iat: _li, exp: _le, jti: leaseJti, ...leased } = decodeJwt(first.entitlement);
    const { iat: _si, exp: _se, jti: settledJti, ...settled } = decodeJwt(again.entitlement);
    expect(leased).toMatchObject({ sub: u.autodeskId, product: 'autocad', productName: 'AutoCAD', source: 'flex', team: t });
    expect(leased.teamName).toEqual(expect.any(String));
    expect(settled).toEqual(leased);
    expect(settledJti).not.toBe(leaseJti);
    const third = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', machine: 'laptop' }), 200);
    expect(third.entitlement).toBe(again.entitlement);
  });

  it('R7a: relaunches answered within the free window do not outlive it: the first relaunch after it settles the day', async () => {
    const t = await team(30);
    const u = await newMember(gw, t, ['autocad']);
    const relaunch = () => u.api.post('/v1/launch', { product: 'autocad', machine: 'laptop' });
    const first = expectStatus(await relaunch(), 200);
    const lease = new Date(Math.floor((Date.parse(first.session.startsAt) + 10 * 60_000) / 1000) * 1000).toISOString();
    // Within the window, the lease again (three relaunches: whatever is kept warm is kept, then used).
    await setClock(gw, new Date(T0.getTime() + 60_000));
    for (let i = 0; i < 3; i++) {
      expect(expectStatus(await relaunch(), 200)).toMatchObject({ session: { id: first.session.id }, charged: 0, expiresAt: lease });
    }
    // Past it, with nothing written since: the relaunch settles the day, its entitlement runs to the session's end.
    await setClock(gw, new Date(T0.getTime() + 6 * 60_000));
    const end = new Date(Math.floor(Date.parse(first.session.endsAt) / 1000) * 1000).toISOString();
    expect(expectStatus(await relaunch(), 200)).toMatchObject({ session: { id: first.session.id }, charged: 0, expiresAt: end });
    const ended = expectStatus(await u.api.post(`/v1/sessions/${first.session.id}/end`, { machine: 'laptop' }), 200);
    expect(ended).toMatchObject({ charged: 7, refunded: 0 });
  });

  it('R6: after 24 hours the next launch opens a new session and charges again', async () => {
    const t = await team(30);
    const u = await newMember(gw, t, ['autocad']);
    const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(first.charged).toBe(7);
    await setClock(gw, new Date(Date.parse(first.session.endsAt) + 1000));
    const next = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(next.session.id).not.toBe(first.session.id);
    expect(next).toMatchObject({ charged: 7, balance: 16 });
  });

  it('R6: two products on one day cost both daily rates (AutoCAD 7 + Revit 10 = 17)', async () => {
    const t = await team(100);
    const u = await newMember(gw, t, ['autocad', 'revit']);
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
    expect(await balanceOf(gw, t)).toBe(83);
  });

  it('R8: a rate change applies to sessions opened after it, not to the open one', async () => {
    const key = `rate-${Date.now()}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Rate Test', dailyRate: 5 }), 201);
    const t = await team(100);
    const u = await newMember(gw, t, [key]);
    expect(expectStatus(await u.api.post('/v1/launch', { product: key }), 200).charged).toBe(5);
    expectStatus(await gw.op.patch(`/v1/products/${key}`, { dailyRate: 12 }), 200);
    expect(expectStatus(await u.api.post('/v1/launch', { product: key }), 200).charged).toBe(0);
    await setClock(gw, new Date(T0.getTime() + 25 * 3600_000));
    expect(expectStatus(await u.api.post('/v1/launch', { product: key }), 200).charged).toBe(12);
  });

  it('a repeated Idempotency-Key returns the first answer, even after the session changed', async () => {
    const t = await team(30);
    const u = await newMember(gw, t, ['autocad']);
    const headers = { 'idempotency-key': 'launch-abc-1' };
    const first = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }, headers), 200);
    const replay = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }, headers), 200);
    expect(replay).toEqual(first);
    expect(replay.charged).toBe(7);
    const other = await u.api.post('/v1/launch', { product: 'revit' }, headers);
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('conflict');
    expect(await balanceOf(gw, t)).toBe(23);
  });
});

describe('lots (R1, R2, R4)', () => {
  it('R1: a lot is valid one calendar year from its purchase instant', async () => {
    const t = await team();
    const lot = await buy(gw, t, 10, '2026-03-15T10:00:00Z');
    expect(lot.expiresAt).toBe('2027-03-15T10:00:00.000Z');
  });

  it('R2: a charge spanning two lots draws the one expiring first, then the next', async () => {
    const t = await team();
    const older = await buy(gw, t, 4, '2025-06-01T00:00:00Z');
    const newer = await buy(gw, t, 20, '2026-01-01T00:00:00Z');
    const u = await newMember(gw, t, ['autocad']);
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    const { lots } = expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200);
    expect(lots.find((l: any) => l.id === older.lotId).remaining).toBe(0);
    expect(lots.find((l: any) => l.id === newer.lotId).remaining).toBe(17);
    const charges = (await ledgerOf(gw, t)).filter((e) => e.kind === 'charge');
    expect(charges.map((c) => [c.lotId, c.tokens])).toEqual([
      [older.lotId, -4],
      [newer.lotId, -3],
    ]);
  });

  it('R2: on equal expiry the smaller lot is drawn first', async () => {
    const t = await team();
    const big = await buy(gw, t, 50, '2026-01-01T00:00:00Z');
    const small = await buy(gw, t, 8, '2026-01-01T00:00:00Z');
    const u = await newMember(gw, t, ['autocad']);
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    const { lots } = expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200);
    expect(lots.find((l: any) => l.id === small.lotId).remaining).toBe(1);
    expect(lots.find((l: any) => l.id === big.lotId).remaining).toBe(50);
  });

  it('R2: on equal expiry and size the lot bought first pays first, then the lower lot id in byte order', async () => {
    // Bought on 29 February and on 1 March 2028: all three lots expire on 1 March 2029 (R1).
    await setClock(gw, '2028-06-01T00:00:00Z');
    const t = await team();
    const marchA = await buy(gw, t, 20, '2028-03-01T08:00:00Z');
    const leap = await buy(gw, t, 20, '2028-02-29T08:00:00Z');
    const marchB = await buy(gw, t, 20, '2028-03-01T08:00:00Z');
    expect(new Set([marchA.expiresAt, leap.expiresAt, marchB.expiresAt])).toEqual(new Set(['2029-03-01T08:00:00.000Z']));
    const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const [lowerId, higherId] = [marchA.lotId as string, marchB.lotId as string].sort(byCodeUnits);
    // The balance lists the lots in the order they are drawn.
    const { lots } = expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200);
    expect(lots.map((l: any) => l.id)).toEqual([leap.lotId, lowerId, higherId]);
    const product = await productRated(45);
    const u = await newMember(gw, t, [product]);
    const r = expectStatus(await u.api.post('/v1/launch', { product }), 200);
    const charges = (await ledgerOf(gw, t)).filter((e) => e.kind === 'charge' && e.sessionId === r.session.id);
    expect(charges.map((c) => [c.lotId, c.tokens])).toEqual([
      [leap.lotId, -20],
      [lowerId, -20],
      [higherId, -5],
    ]);
  });

  it('R2: an expired lot is never consumed and leaves the balance through an expiry entry', async () => {
    const t = await team();
    const old = await buy(gw, t, 100, '2025-03-15T09:00:00Z'); // expired an hour before T0
    const fresh = await buy(gw, t, 10, '2026-03-01T00:00:00Z');
    expect(await balanceOf(gw, t)).toBe(10);
    const u = await newMember(gw, t, ['autocad']);
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    const { lots } = expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200);
    expect(lots.find((l: any) => l.id === old.lotId)).toMatchObject({ remaining: 0, expired: true });
    expect(lots.find((l: any) => l.id === fresh.lotId).remaining).toBe(3);
    const ledger = await ledgerOf(gw, t);
    expect(ledger.find((e) => e.kind === 'expiry')).toMatchObject({ lotId: old.lotId, tokens: -100, at: '2026-03-15T09:00:00.000Z' });
    // The next purchase found the old lot expired and wrote its entry (R2), before anything was drawn.
    expect(ledger.map((e) => e.kind)).toEqual(['purchase', 'expiry', 'purchase', 'charge']);
  });

  it('R4: a launch needing more tokens than the team has is refused with insufficient-tokens and charges nothing', async () => {
    const t = await team(9);
    const u = await newMember(gw, t, ['revit']);
    const before = await ledgerOf(gw, t);
    const r = await u.api.post('/v1/launch', { product: 'revit' });
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ code: 'insufficient-tokens', status: 403, rule: 'R4' });
    expect(r.body.detail).toMatch(/9 tokens left.*Revit needs 10/);
    expect(await balanceOf(gw, t)).toBe(9);
    expect(await ledgerOf(gw, t)).toEqual(before);
  });

  it('R4: concurrent charges against one team never overdraw it', async () => {
    const t = await team(50); // room for 5 Revit days of 10
    const users = await Promise.all(Array.from({ length: 8 }, () => newMember(gw, t, ['revit'])));
    const answers = await Promise.all(users.map((u) => u.api.post('/v1/launch', { product: 'revit' })));
    const granted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 403);
    expect(granted).toHaveLength(5);
    expect(refused.every((a) => a.body.code === 'insufficient-tokens')).toBe(true);
    expect(await balanceOf(gw, t)).toBe(0);
  });
});

describe('refusals: every launch refusal code of the contract', () => {
  it('unknown-product (404) names the product', async () => {
    const u = await signIn(gw, await newAccount(gw));
    const r = await u.api.post('/v1/launch', { product: 'no-such-thing' });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'unknown-product' });
    expect(r.body.detail).toContain('no-such-thing');
  });

  it('no-access (403): not a member of any team, and no subscription or trial', async () => {
    const u = await signIn(gw, await newAccount(gw));
    const r = await u.api.post('/v1/launch', { product: 'autocad' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('no-access');
  });

  it('no-access (403, R12): a member without that product', async () => {
    const t = await team(100);
    const u = await newMember(gw, t, ['autocad']);
    const r = await u.api.post('/v1/launch', { product: 'revit' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'no-access', rule: 'R12' });
    expect(await balanceOf(gw, t)).toBe(100);
  });

  it('unauthorized (401): a launch without an ID token', async () => {
    const r = await gw.anon.post('/v1/launch', { product: 'autocad' });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthorized');
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('invalid-request (400): a member of several teams must say which', async () => {
    const t1 = await team(20);
    const t2 = await team(20);
    const u = await newMember(gw, t1, ['autocad']);
    await joinTeam(gw, t2, u, { products: ['autocad'] });
    const r = await u.api.post('/v1/launch', { product: 'autocad' });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain(t1);
    const ok = expectStatus(await u.api.post('/v1/launch', { product: 'autocad', team: t2 }), 200);
    expect(ok.team).toBe(t2);
    expect(await balanceOf(gw, t2)).toBe(13);
  });
});

describe('entitlements (R17)', () => {
  it('R17: an entitlement verifies against the JWKS and carries sub, team, product, source, session, iat, exp, jti and kid', async () => {
    const t = await team(20);
    const u = await newMember(gw, t, ['autocad']);
    const r = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
    const header = decodeProtectedHeader(r.entitlement);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: ENTITLEMENT_TYP });
    expect(jwks.keys.map((k: any) => k.kid)).toContain(header.kid);
    const { payload } = await jwtVerify(r.entitlement, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
      audience: ENTITLEMENT_AUDIENCE,
      issuer: 'flexgate',
      currentDate: T0,
    });
    expect(payload).toMatchObject({ sub: u.autodeskId, team: t, product: 'autocad', source: 'flex', sid: r.session.id });
    expect(typeof payload.jti).toBe('string');
    expect(payload.iat).toBe(Math.floor(T0.getTime() / 1000));
    expect(new Date((payload.exp as number) * 1000).toISOString()).toBe(r.expiresAt);
  });

  it('an ID token is not accepted as an entitlement, nor an entitlement as an ID token', async () => {
    const t = await team(20);
    const u = await newMember(gw, t, ['autocad']);
    const r = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    const misuse = await gw.anon.as(r.entitlement).post('/v1/launch', { product: 'autocad' });
    expect(misuse.status).toBe(401);
  });
});
