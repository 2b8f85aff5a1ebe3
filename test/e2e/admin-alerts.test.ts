import { describe, expect, it } from 'vitest';
import { mailsTo, newAdmin } from '../harness/admin';
import { buy, newMember, setClock, signIn, type TestUser } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus, simultaneously } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;

const newCheckedTeam = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

const alertsOf = async (to: string, kind: string) => (await mailsTo(gw, to)).filter((m) => m.kind === kind);

describe('alerts (R19)', () => {
  it('R19: the low-balance e-mail goes to every admin once per crossing below 20%, not on every launch', async () => {
    const key = `big-${Math.random().toString(36).slice(2, 8)}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Big Rate', dailyRate: 30 }), 201);
    const team = await newCheckedTeam(100);
    const [one, two] = [await newAdmin(gw, [team]), await newAdmin(gw, [team])];
    const users = await Promise.all(Array.from({ length: 9 }, () => newMember(gw, team, 'all')));
    const launch = (i: number, product = key) => users[i]!.api.post('/v1/launch', { product });

    expectStatus(await launch(0), 200); // 70
    expectStatus(await launch(1), 200); // 40: 40% left, still above 20%
    expect(await alertsOf(one.email, 'alert-low-balance')).toEqual([]);
    let balance = expectStatus(await one.api.get(`/v1/teams/${team}/balance`), 200);
    expect(balance.alerts).toMatchObject({ lowBalance: false, lowBalanceThreshold: 20, validBought: 100 });

    expectStatus(await launch(2), 200); // 10: crosses below 20
    expect((await launch(3)).body.code).toBe('insufficient-tokens');
    expectStatus(await launch(4, 'autocad'), 200); // 3: still below, same crossing
    for (const admin of [one, two]) {
      const mails = await alertsOf(admin.email, 'alert-low-balance');
      expect(mails).toHaveLength(1);
      expect(mails[0].subject).toMatch(/10 tokens left/);
    }
    balance = expectStatus(await one.api.get(`/v1/teams/${team}/balance`), 200);
    expect(balance).toMatchObject({ balance: 3, alerts: { lowBalance: true } });

    // A purchase lifts it above the line; the next fall below is a new crossing, mailed again.
    await buy(gw, team, 200); // 203 of 300
    expect(expectStatus(await one.api.get(`/v1/teams/${team}/balance`), 200).alerts.lowBalance).toBe(false);
    for (const i of [5, 6, 7, 8]) expectStatus(await launch(i), 200); // 203 - 120 = 83 (28%)
    expect(await alertsOf(one.email, 'alert-low-balance')).toHaveLength(1);
    expectStatus(await users[0]!.api.post('/v1/launch', { product: 'revit' }), 200); // 73
    expectStatus(await users[1]!.api.post('/v1/launch', { product: 'civil-3d' }), 200); // 62
    expectStatus(await users[2]!.api.post('/v1/launch', { product: 'maya' }), 200); // 53: below 60
    expectStatus(await users[3]!.api.post('/v1/launch', { product: 'autocad' }), 200); // 46
    expect(await alertsOf(one.email, 'alert-low-balance')).toHaveLength(2);
    expect(await alertsOf(two.email, 'alert-low-balance')).toHaveLength(2);
  });

  it("R19: one team's lift above the line leaves another team's crossing as it was", async () => {
    const key = `huge-${Math.random().toString(36).slice(2, 8)}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Huge Rate', dailyRate: 85 }), 201);
    const [a, b] = [await newCheckedTeam(100), await newCheckedTeam(100)];
    const [adminA, adminB] = [await newAdmin(gw, [a]), await newAdmin(gw, [b])];
    const [ua, ub] = [await newMember(gw, a, 'all'), await newMember(gw, b, 'all')];
    expectStatus(await ua.api.post('/v1/launch', { product: key }), 200); // A: 15, crosses
    expectStatus(await ub.api.post('/v1/launch', { product: key }), 200); // B: 15, crosses
    await buy(gw, a, 200); // A: 215 of 300, lifted
    expectStatus(await ub.api.post('/v1/launch', { product: 'autocad' }), 200); // B: 8, the same crossing
    expect((await alertsOf(adminA.email, 'alert-low-balance')).length).toBe(1);
    expect((await alertsOf(adminB.email, 'alert-low-balance')).length).toBe(1);
  });

  it('R19: tokens transferred out leave the basis: the line is a fifth of what the team kept of its purchases', async () => {
    const team = await newCheckedTeam(100);
    const other = await newCheckedTeam();
    const admin = await newAdmin(gw, [team, other]);
    expectStatus(await admin.api.post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 50 }), 201);
    const alerts = expectStatus(await admin.api.get(`/v1/teams/${team}/balance`), 200).alerts;
    expect(alerts).toMatchObject({ validBought: 50, lowBalanceThreshold: 10, lowBalance: false });
    const users = await Promise.all(Array.from({ length: 6 }, () => newMember(gw, team, ['autocad'])));
    // 50 - 5 x 7 = 15: under a fifth of the 100 bought, above a fifth of the 50 kept.
    for (const u of users.slice(0, 5)) expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(await alertsOf(admin.email, 'alert-low-balance')).toEqual([]);
    expectStatus(await users[5]!.api.post('/v1/launch', { product: 'autocad' }), 200); // 8: below 10
    const mails = await alertsOf(admin.email, 'alert-low-balance');
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toMatch(/\b8 tokens left/);
  });

  it('R19: launches charging together still cross the line once, and the crossing is mailed', async () => {
    // On SQLite these land in one group of charges, which reads the team's lots once: each charge
    // must see the draws of those before it in the group, or the crossing would go unnoticed.
    const team = await newCheckedTeam(100);
    const admin = await newAdmin(gw, [team]);
    const users = await Promise.all(Array.from({ length: 12 }, () => newMember(gw, team, ['autocad'])));
    const answers = await Promise.all(users.map((u) => u.api.post('/v1/launch', { product: 'autocad' })));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200)); // 12 x 7 = 84: 16 left, below 20
    expect(new Set(answers.map((a) => a.body.session.id)).size).toBe(12);
    const mails = await alertsOf(admin.email, 'alert-low-balance');
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toMatch(/1[0-9] tokens left/);
    const balance = expectStatus(await admin.api.get(`/v1/teams/${team}/balance`), 200);
    expect(balance).toMatchObject({ balance: 16, alerts: { lowBalance: true } });
  });

  it('R19: after a crossing, no charge below the line mails again, by any path; only a new crossing after a lift does, once', async () => {
    const key = `big-${Math.random().toString(36).slice(2, 8)}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Big Rate', dailyRate: 790 }), 201);
    const team = await newCheckedTeam(1000); // the line: below 200
    const admins = [await newAdmin(gw, [team]), await newAdmin(gw, [team])];
    const u = await Promise.all(Array.from({ length: 8 }, () => newMember(gw, team, 'all')));
    const launch = async (user: TestUser, product: string) => expectStatus(await user.api.post('/v1/launch', { product }), 200);
    /** Launches sent together (on SQLite they are charged in one group, the fast path). */
    const together = async (launches: [TestUser, string][]) => {
      const answers = await simultaneously(
        launches.map(([user, product]) => ({ api: user.api, method: 'POST', path: '/v1/launch', body: { product } })),
      );
      for (const a of answers) expect(expectStatus(a, 200).charged).toBeGreaterThan(0);
      return answers;
    };
    const balance = async () => expectStatus(await admins[0]!.api.get(`/v1/teams/${team}/balance`), 200);
    const expectLowBalanceMails = async (n: number, after: string) => {
      for (const admin of admins) expect(await alertsOf(admin.email, 'alert-low-balance'), `${admin.email} after ${after}`).toHaveLength(n);
    };

    await launch(u[0]!, key); // 210: 21%, above the line
    await expectLowBalanceMails(0, 'a charge above the line');
    await launch(u[1]!, 'civil-3d'); // 199: the crossing
    await expectLowBalanceMails(1, 'the crossing');

    // Below the line: four users, three products each, at once: 104 tokens, 95 left.
    await together(u.slice(2, 6).flatMap((user) => ['autocad', 'revit', 'maya'].map((p): [TestUser, string] => [user, p])));
    await expectLowBalanceMails(1, 'concurrent launches below the line');
    // One after the other, other users and products: 69 left.
    await launch(u[6]!, '3ds-max');
    await launch(u[7]!, 'autocad');
    await launch(u[0]!, 'revit');
    await expectLowBalanceMails(1, 'sequential launches below the line');
    // A launch granted by the client during an outage, under the offline allowance it was issued,
    // reported now and charged (9): 60 left.
    const allowance = expectStatus(await u[1]!.api.post('/v1/offline-allowance', {}), 201);
    const provisional = { id: `${allowance.id}.0`, launchedAt: allowance.issuedAt };
    expect(
      expectStatus(
        await u[1]!.api.post('/v1/launch', { product: 'maya', provisional }, { 'idempotency-key': `provisional-${provisional.id}` }),
        200,
      ),
    ).toMatchObject({ charged: 9, balance: 60 });
    await expectLowBalanceMails(1, 'a reported provisional launch below the line');
    // Tokens come in, but not enough to lift the balance above the line: the crossing goes on.
    await buy(gw, team, 10); // 70 of 1010: the line is now 202
    await expectLowBalanceMails(1, 'a purchase that leaves the balance below the line');
    expect(await balance()).toMatchObject({ balance: 70, alerts: { lowBalance: true } });
    await launch(u[7]!, 'revit'); // 60: the same crossing, so no e-mail
    await expectLowBalanceMails(1, 'a charge after a purchase that left the balance below the line');

    // A purchase lifts it above the line; the next fall below is a new crossing: one more e-mail.
    await buy(gw, team, 1000); // 1060 of 2010: the line is 402
    expect((await balance()).alerts.lowBalance).toBe(false);
    await expectLowBalanceMails(1, 'a purchase that lifts the balance above the line');
    await launch(u[2]!, key); // 270: the second crossing
    await expectLowBalanceMails(2, 'the second crossing');
    await together(u.slice(3, 6).map((user): [TestUser, string] => [user, 'civil-3d'])); // 237
    await launch(u[6]!, 'revit'); // 227
    await expectLowBalanceMails(2, 'launches below the line after the second crossing');
    expect(await balance()).toMatchObject({ balance: 227, alerts: { lowBalance: true } });
    // Every lot expires in a year: the crossings said nothing of expiring tokens.
    for (const admin of admins) expect(await alertsOf(admin.email, 'alert-expiring')).toEqual([]);
    expect((await balance()).alerts.expiringSoon).toBe(false);
  });

  it('R19: a transfer is an occasion on both sides: the source crossing its line, the target receiving tokens that expire soon', async () => {
    const key = `big-${Math.random().toString(36).slice(2, 8)}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Big Rate', dailyRate: 30 }), 201);
    const from = await newCheckedTeam(100);
    const to = await newCheckedTeam();
    const [sender, receiver] = [await newAdmin(gw, [from]), await newAdmin(gw, [to])];
    for (const u of await Promise.all([newMember(gw, from, 'all'), newMember(gw, from, 'all')])) {
      expectStatus(await u.api.post('/v1/launch', { product: key }), 200);
    }
    // 40 left of 100 (line 20). Moving 30 out: 10 left of the 70 kept, under its line of 14, mailed at once.
    expect(await alertsOf(sender.email, 'alert-low-balance')).toEqual([]);
    expectStatus(await gw.op.post(`/v1/teams/${from}/transfers`, { toTeam: to, tokens: 30 }), 201);
    const low = await alertsOf(sender.email, 'alert-low-balance');
    expect(low).toHaveLength(1);
    expect(low[0].subject).toMatch(/\b10 tokens left/);

    // Tokens 65 days from expiry keep their date when moved: the receiving admin hears of them at once.
    const old = await newCheckedTeam();
    const lot = await buy(gw, old, 50, new Date(T0.getTime() - 300 * DAY).toISOString());
    expect(await alertsOf(receiver.email, 'alert-expiring')).toEqual([]);
    expectStatus(await gw.op.post(`/v1/teams/${old}/transfers`, { toTeam: to, tokens: 20 }), 201);
    const expiring = await alertsOf(receiver.email, 'alert-expiring');
    expect(expiring).toHaveLength(1);
    expect(expiring[0].text).toContain(lot.expiresAt);
  });

  it('R19: a team told of an expiring lot that is now spent still hears at once when a charge takes it below the line', async () => {
    const key = `rate35-${Math.random().toString(36).slice(2, 8)}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: 'Rate 35', dailyRate: 35 }), 201);
    const team = await newCheckedTeam();
    const admin = await newAdmin(gw, [team]);
    await buy(gw, team, 50, new Date(T0.getTime() - 300 * DAY).toISOString()); // expires in 65 days: announced
    expect(await alertsOf(admin.email, 'alert-expiring')).toHaveLength(1);
    await buy(gw, team, 100); // 150 bought: the line is 30
    const users = await Promise.all(Array.from({ length: 4 }, () => newMember(gw, team, [key])));
    // 115, 80 (the announced lot spent), 45: above the line; then 10.
    for (const u of users.slice(0, 3)) expectStatus(await u.api.post('/v1/launch', { product: key }), 200);
    expect(await alertsOf(admin.email, 'alert-low-balance')).toEqual([]);
    expect(expectStatus(await users[3]!.api.post('/v1/launch', { product: key }), 200).balance).toBe(10);
    const mails = await alertsOf(admin.email, 'alert-low-balance');
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toMatch(/10 tokens left/);
  });

  it('R19: tokens expiring within 90 days are announced once per lot, including when time alone brings a lot within 90 days', async () => {
    const team = await newCheckedTeam();
    const admin = await newAdmin(gw, [team]);
    const u = await newMember(gw, team, ['autocad']);

    const soon = await buy(gw, team, 50, new Date(T0.getTime() - 300 * DAY).toISOString()); // expires in 65 days
    let mails = await alertsOf(admin.email, 'alert-expiring');
    expect(mails).toHaveLength(1);
    expect(mails[0].text).toContain(soon.expiresAt);
    const fresh = await buy(gw, team, 100); // a year to go: nothing to say
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(await alertsOf(admin.email, 'alert-expiring')).toHaveLength(1);
    expect(expectStatus(await admin.api.get(`/v1/teams/${team}/balance`), 200).alerts).toMatchObject({
      expiringSoon: true,
      expiringTokens: 43,
      nextExpiry: soon.expiresAt,
    });

    // 280 days on, the first lot is gone and the second is 85 days from expiry: the next charge notices.
    await setClock(gw, new Date(T0.getTime() + 280 * DAY));
    const again = await newMember(gw, team, ['revit']);
    expectStatus(await again.api.post('/v1/launch', { product: 'revit' }), 200);
    mails = await alertsOf(admin.email, 'alert-expiring');
    expect(mails).toHaveLength(2);
    expect(mails[1].text).toContain(fresh.expiresAt);
    expectStatus(
      await (await signIn(gw, { autodeskId: u.autodeskId, password: u.password })).api.post('/v1/launch', { product: 'autocad' }),
      200,
    );
    expect(await alertsOf(admin.email, 'alert-expiring')).toHaveLength(2);
  });
});
