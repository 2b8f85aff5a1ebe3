/**
 * Spend: prices as data, the forecast of a team's tokens (R2 under the recent burn), the R19
 * e-mails' outlook, right-sizing advice against subscriptions, and a user's own usage (R15).
 * Over HTTP against a real gateway; only the clock is moved.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, parseCsvText, postCsv } from '../harness/admin';
import { buy, newAccount, newMember, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

const unique = () => randomBytes(3).toString('hex');

async function newProduct(dailyRate: number, subscriptionPricePerYear?: number): Promise<string> {
  const key = `spend-${unique()}`;
  const body = { key, name: `Spend ${key}`, dailyRate, ...(subscriptionPricePerYear !== undefined && { subscriptionPricePerYear }) };
  expectStatus(await gw.op.post('/v1/products', body), 201);
  return key;
}

/**
 * Launches `product` as `user` on each of `days`, around 09:00 UTC, a minute later each day so that
 * the previous day's session has ended (R6, R7: the next launch opens and pays for a new one).
 */
async function launchOnDays(user: { autodeskId: string; password: string }, product: string, days: string[]): Promise<void> {
  await launchEach(
    user,
    days.map((day): [string, string] => [product, day]),
  );
}
/** Each (product, day) in turn, a minute later each time: a day's session has always ended before the next day's launch. */
async function launchEach(user: { autodeskId: string; password: string }, launches: [string, string][]): Promise<void> {
  for (const [i, [product, day]] of launches.entries()) {
    await setClock(gw, new Date(Date.parse(`${day}T09:00:00Z`) + i * 60_000));
    expectStatus(await (await again(user)).api.post('/v1/launch', { product }), 200);
  }
}
/** Signed in anew: an access token lasts a week in the test gateway, and these tests jump by months. */
const again = (u: { autodeskId: string; password: string }) => signIn(gw, { autodeskId: u.autodeskId, password: u.password });
const daysFrom = (first: string, n: number) =>
  Array.from({ length: n }, (_, i) => new Date(Date.parse(`${first}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));

describe('prices as data', () => {
  it('a catalog product carries its subscription price per year, set and cleared by the operator only', async () => {
    const key = await newProduct(5, 123_456);
    const catalog = expectStatus(await gw.op.get('/v1/products'), 200);
    expect(catalog.find((p: any) => p.key === key)).toMatchObject({ dailyRate: 5, subscriptionPricePerYear: 123_456 });
    expect(expectStatus(await gw.op.patch(`/v1/products/${key}`, { subscriptionPricePerYear: 99_900 }), 200)).toMatchObject({
      dailyRate: 5,
      subscriptionPricePerYear: 99_900,
    });
    // R8: a rate change leaves the price alone, and the other way round.
    expect(expectStatus(await gw.op.patch(`/v1/products/${key}`, { dailyRate: 6 }), 200)).toMatchObject({
      dailyRate: 6,
      subscriptionPricePerYear: 99_900,
    });
    expect(
      expectStatus(await gw.op.patch(`/v1/products/${key}`, { subscriptionPricePerYear: null }), 200).subscriptionPricePerYear,
    ).toBeNull();
    const unpriced = await newProduct(4);
    expect((await gw.op.get('/v1/products')).body.find((p: any) => p.key === unpriced).subscriptionPricePerYear).toBeNull();
    for (const bad of [{}, { subscriptionPricePerYear: 12.5 }, { subscriptionPricePerYear: -1 }, { subscriptionPricePerYear: '100' }]) {
      const r = await gw.op.patch(`/v1/products/${key}`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    const team = await newTeam(gw);
    const admin = await newAdmin(gw, [team]);
    expect((await admin.api.patch(`/v1/products/${key}`, { subscriptionPricePerYear: 1 })).status).toBe(403);
  });

  it('R1/R3: a purchase carries its price per token, shown with the lot, and a transferred part keeps it', async () => {
    await setClock(gw, '2026-02-01T10:00:00Z');
    const [from, to] = [await newTeam(gw), await newTeam(gw)];
    const admin = await newAdmin(gw, [from, to]);
    const priced = expectStatus(await admin.api.post(`/v1/teams/${from}/purchases`, { tokens: 100, pricePerToken: 250 }), 201);
    expect(priced.pricePerToken).toBe(250);
    expect(expectStatus(await admin.api.post(`/v1/teams/${from}/purchases`, { tokens: 50 }), 201).pricePerToken).toBeNull();
    expect((await admin.api.post(`/v1/teams/${from}/purchases`, { tokens: 5, pricePerToken: 1.5 })).status).toBe(400);
    const lots = expectStatus(await admin.api.get(`/v1/teams/${from}/balance`), 200).lots;
    expect(lots.map((l: any) => l.pricePerToken).sort()).toEqual([250, null]);
    // R2 draws the priced lot first: it was bought, and so expires, a moment before the other.
    expectStatus(await admin.api.post(`/v1/teams/${from}/transfers`, { toTeam: to, tokens: 30 }), 201);
    const moved = expectStatus(await admin.api.get(`/v1/teams/${to}/balance`), 200).lots;
    expect(moved).toEqual([expect.objectContaining({ tokens: 30, pricePerToken: 250, expiresAt: priced.expiresAt })]);
  });
});

describe('forecast', () => {
  it('R2: at the burn of the last whole days, the first lot to expire loses what the burn cannot reach, and the balance runs out on the day it says', async () => {
    await setClock(gw, '2026-03-01T08:00:00Z');
    const team = await newTeam(gw);
    await buy(gw, team, 1, '2025-03-20T00:00:00Z'); // expires with the next lot: R2 draws the smaller first
    expectStatus(
      await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 200, purchasedAt: '2025-03-20T00:00:00Z', pricePerToken: 50 }),
      201,
    );
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 1000, pricePerToken: 40 }), 201);
    const ann = await newMember(gw, team, ['revit', 'maya']);
    await launchOnDays(ann, 'revit', daysFrom('2026-03-01', 7));
    // A short launch refunded (R7a) burns nothing.
    await setClock(gw, '2026-03-03T12:00:00Z');
    const quick = expectStatus(await ann.api.post('/v1/launch', { product: 'maya' }), 200);
    expect(expectStatus(await ann.api.post(`/v1/sessions/${quick.session.id}/end`), 200).refunded).toBe(9);

    await setClock(gw, '2026-03-08T12:00:00Z');
    const f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    // The team is 7 whole days old: 70 tokens over them, 10 a day.
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-08', days: 7, tokens: 70 });
    expect(f.dailyBurn).toBe(10);
    expect(f.balance).toBe(1131);
    // R2 drew the 1-token lot first, then the 200 one: 131 left in them on 20 March, 11.5 days
    // away: 12 days of 10 tokens reach 120 of them, 11 expire unused.
    expect(f.lots.map((l: any) => [l.remaining, l.used, l.atRisk])).toEqual([
      [131, 120, 11],
      [1000, 1000, 0],
    ]);
    expect(f.atRisk).toBe(11);
    expect(f.valueAtRisk).toBe(550);
    expect(f.currency).toBe('USD');
    // 1,120 tokens at 10 a day: the 112th day from now (day 111) takes the last one.
    expect(f).toMatchObject({ runsOutBy: 'use', runsOutOn: '2026-06-27' });
    expect(f.projection).toHaveLength(366);
    expect(f.projection[0]).toEqual({ day: '2026-03-08', balance: 1131 });
    expect(f.projection.at(-1).balance).toBe(0);
  });

  it('without use every token expires unused; an admin of another team is refused; an unknown team is a 404', async () => {
    await setClock(gw, '2026-03-01T08:00:00Z');
    const team = await newTeam(gw, 500);
    const f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f).toMatchObject({ balance: 500, dailyBurn: 0, atRisk: 500, runsOutBy: 'expiry', runsOutOn: '2027-03-01', valueAtRisk: null });
    // Made today: no whole day behind it yet, so no burn at all.
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-01', days: 0, tokens: 0 });
    const other = await newAdmin(gw, [await newTeam(gw)]);
    expect((await other.api.get(`/v1/teams/${team}/forecast`)).status).toBe(403);
    expect((await gw.op.get('/v1/teams/tm_nope/forecast')).status).toBe(404);
  });

  it('the burn counts whole days only: five days without use burn nothing, and neither does a launch today', async () => {
    await setClock(gw, '2026-03-01T08:00:00Z');
    const team = await newTeam(gw, 500);
    await setClock(gw, '2026-03-06T08:00:00Z');
    let f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-06', days: 5, tokens: 0 });
    expect(f).toMatchObject({ dailyBurn: 0, atRisk: 500 });
    const ann = await newMember(gw, team, ['revit']);
    expectStatus(await ann.api.post('/v1/launch', { product: 'revit' }), 200);
    f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-06', days: 5, tokens: 0 });
    expect(f).toMatchObject({ balance: 490, dailyBurn: 0, atRisk: 490 });
  });

  it('a team one day old is forecast from its one day of use', async () => {
    await setClock(gw, '2026-03-01T08:00:00Z');
    const team = await newTeam(gw, 100);
    const ann = await newMember(gw, team, ['revit']);
    expectStatus(await ann.api.post('/v1/launch', { product: 'revit' }), 200);
    await setClock(gw, '2026-03-02T08:00:00Z');
    const f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-02', days: 1, tokens: 10 });
    // 90 tokens at 10 a day: today and the next eight days take them all.
    expect(f).toMatchObject({ dailyBurn: 10, balance: 90, atRisk: 0, runsOutBy: 'use', runsOutOn: '2026-03-10' });
  });

  it('R19: the alert e-mails say when the balance runs out at the current rate and what will expire unused', async () => {
    await setClock(gw, '2026-04-01T08:00:00Z');
    const team = await newTeam(gw);
    const admin = await newAdmin(gw, [team]);
    // A lot bought long ago expires within 90 days: the expiry e-mail goes at once, before any use.
    await buy(gw, team, 200, '2025-05-01T00:00:00Z');
    const [expiring] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-expiring');
    expect(expiring.text).toContain(
      'At the current rate (no tokens used lately), the balance runs out on 2026-05-01; 200 tokens will expire unused on 2026-05-01.',
    );
    // Ten days of Revit then bring the balance under 20% of 200: the low-balance e-mail says when it runs out.
    const ann = await newMember(gw, team, ['revit']);
    await launchOnDays(ann, 'revit', daysFrom('2026-04-01', 17));
    const [low] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance');
    expect(low.subject).toMatch(/has 30 tokens left/);
    // 16 whole days at 10 a day before 17 April; 30 tokens last this day and the next two.
    expect(low.text).toContain('At the current rate (10 tokens a day), the balance runs out on 2026-04-19.');
    // 30 tokens are three days of Revit: nothing is out of reach yet.
    expect(low.text).toContain('Buy more tokens before products stop launching.');
  });

  it('R19: a balance under a day of every product launched lately says they no longer launch, not when the tokens run out', async () => {
    await setClock(gw, '2026-04-01T08:00:00Z');
    const team = await newTeam(gw, 30);
    const admin = await newAdmin(gw, [team]);
    const ann = await newMember(gw, team, ['autocad', 'revit']);
    // Revit (10 a day), AutoCAD (7), Revit: 3 tokens left, under 20% of 30.
    const days: [string, string][] = [
      ['revit', '2026-04-01'],
      ['autocad', '2026-04-02'],
      ['revit', '2026-04-03'],
    ];
    await launchEach(ann, days);
    const [low] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance');
    expect(low.subject).toMatch(/has 3 tokens left/);
    expect(low.text).toContain('That is less than a day of any product it launched lately: AutoCAD (7 a day), Revit (10 a day).');
    expect(low.text).toContain('These no longer launch; buy tokens to launch them again.');
    expect(low.text).not.toContain('before products stop');
    expect(low.text).not.toContain('runs out on');
    // And so it is: a launch of either is refused for want of tokens.
    expect((await (await again(ann)).api.post('/v1/launch', { product: 'autocad' })).body.code).toBe('insufficient-tokens');
  });

  it('R19: a balance under a day of some of them names those, and keeps the outlook', async () => {
    await setClock(gw, '2026-04-01T08:00:00Z');
    const team = await newTeam(gw, 50);
    const admin = await newAdmin(gw, [team]);
    const ann = await newMember(gw, team, ['autocad', 'civil-3d']);
    // Civil 3D (11 a day) and AutoCAD (7) on alternate days: 50 -> 39 -> 32 -> 21 -> 14 -> 7, under 20% of 50.
    const days: [string, string][] = [
      ['civil-3d', '2026-04-01'],
      ['autocad', '2026-04-02'],
      ['civil-3d', '2026-04-03'],
      ['autocad', '2026-04-04'],
      ['autocad', '2026-04-05'],
    ];
    await launchEach(ann, days);
    const [low] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance');
    expect(low.subject).toMatch(/has 7 tokens left/);
    expect(low.text).toContain('Less than a day of Civil 3D (11 a day): these no longer launch.');
    expect(low.text).toContain('Buy more tokens before the others stop too.');
    expect(low.text).toContain('At the current rate');
  });

  it('R6: a balance that ends below a day of the products burnt on runs out then; the tokens left expire unused, and the e-mail says the same', async () => {
    await setClock(gw, '2026-03-01T08:00:00Z');
    const team = await newTeam(gw);
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 100, pricePerToken: 50 }), 201);
    const admin = await newAdmin(gw, [team]);
    const cheap = await newProduct(2);
    const ann = await newMember(gw, team, ['autocad', cheap]);
    // AutoCAD (7 a day) on 12 days: 16 tokens left, under 20% of 100, at the 12th launch (12 March, 09:11).
    await launchOnDays(ann, 'autocad', daysFrom('2026-03-01', 12));
    const f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f.window).toEqual({ from: '2026-03-01', to: '2026-03-12', days: 11, tokens: 77 });
    // 16 -> 9 today -> 2 tomorrow, which pay no day of AutoCAD: it runs out tomorrow, and the 2 expire unused, at 50 each.
    expect(f).toMatchObject({ balance: 16, dailyBurn: 7, smallestRate: 7, runsOutBy: 'use', runsOutOn: '2026-03-13' });
    expect(f).toMatchObject({ stranded: 2, atRisk: 2, valueAtRisk: 100 });
    expect(f.lots.map((l: any) => [l.remaining, l.used, l.atRisk])).toEqual([[16, 14, 2]]);
    expect(f.projection.slice(0, 4).map((p: any) => p.balance)).toEqual([16, 9, 2, 2]);
    const [low] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance');
    expect(low.subject).toMatch(/has 16 tokens left/);
    expect(low.text).toContain(
      'At the current rate (7 tokens a day), the balance runs out on 2026-03-13 (2 tokens left then, less than a day of any product used lately); 2 tokens will expire unused on 2027-03-01.',
    );

    // A product at 2 a day launched today, its first day: today counts for the products burnt on, not for the rate.
    await setClock(gw, '2026-03-12T10:00:00Z');
    expectStatus(await (await again(ann)).api.post('/v1/launch', { product: cheap }), 200);
    const g = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(g).toMatchObject({
      balance: 14,
      dailyBurn: 7,
      smallestRate: 2,
      stranded: 0,
      atRisk: 0,
      runsOutBy: 'use',
      runsOutOn: '2026-03-13',
    });
  });

  it('R19: products launched only today count: a balance under a day of each is stranded now, in the e-mail and the forecast alike', async () => {
    await setClock(gw, '2026-04-01T08:00:00Z');
    const team = await newTeam(gw, 30);
    const admin = await newAdmin(gw, [team]);
    const [ann, bob] = [await newMember(gw, team, ['autocad', 'revit']), await newMember(gw, team, ['revit'])];
    // All on the team's first day: Revit twice (10 a day), AutoCAD (7): 3 tokens left, under 20% of 30.
    expectStatus(await ann.api.post('/v1/launch', { product: 'revit' }), 200);
    expectStatus(await bob.api.post('/v1/launch', { product: 'revit' }), 200);
    expectStatus(await ann.api.post('/v1/launch', { product: 'autocad' }), 200);
    const [low] = (await mailsTo(gw, admin.email)).filter((m) => m.kind === 'alert-low-balance');
    expect(low.subject).toMatch(/has 3 tokens left/);
    expect(low.text).toContain('That is less than a day of any product it launched lately: AutoCAD (7 a day), Revit (10 a day).');
    expect(low.text).not.toContain('runs out on');
    const f = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(f.window).toEqual({ from: '2026-04-01', to: '2026-04-01', days: 0, tokens: 0 });
    expect(f).toMatchObject({ balance: 3, smallestRate: 7, runsOutBy: 'empty', runsOutOn: '2026-04-01', stranded: 3, atRisk: 3 });
  });
});

describe('right-sizing advice', () => {
  it('names no licence of a person who has not accepted: an address imported or added is not a way to read their subscriptions', async () => {
    await setClock(gw, '2025-06-01T08:00:00Z');
    const viz = await newProduct(5, 50_000);
    const team = await newTeam(gw);
    const admin = (await newAdmin(gw, [team])).api;
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 100, pricePerToken: 100 }), 201);
    // Two people with subscriptions of their own, and a member who accepted, with one too.
    const [imported, added] = [await newAccount(gw), await newAccount(gw)];
    const member = await newMember(gw, team, []);
    for (const who of [imported, added, member]) {
      const sub = { autodeskId: who.autodeskId, product: viz, startsAt: '2025-06-01T00:00:00Z', endsAt: '2026-06-01T00:00:00Z' };
      expectStatus(await gw.op.post('/v1/subscriptions', sub), 201);
    }
    expectStatus(await postCsv(admin, `/v1/teams/${team}/members/import`, `name,email\nAnyone,${imported.autodeskId}\n`), 200);
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { autodeskId: added.autodeskId }), 201);
    await setClock(gw, '2026-06-15T08:00:00Z');
    const advice = expectStatus(await admin.get(`/v1/teams/${team}/advice`), 200);
    expect(advice.subscriptions.map((s: { autodeskId: string }) => s.autodeskId)).toEqual([member.autodeskId]);
    const csv = (await admin.get(`/v1/teams/${team}/advice?format=csv`)).text;
    for (const who of [imported, added]) expect(csv).not.toContain(who.autodeskId);
  });

  it("lists last year's Flex users a subscription would have made cheaper and subscribers who barely used theirs, in JSON and CSV", async () => {
    await setClock(gw, '2025-06-01T08:00:00Z');
    const cad = await newProduct(10, 20_000); // $200.00 a year
    const viz = await newProduct(5, 50_000);
    const team = await newTeam(gw);
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 5000, pricePerToken: 100 }), 201);
    await buy(gw, team, 1000); // no price: left out of the price paid
    const ann = await newMember(gw, team, [cad]);
    const bob = await newMember(gw, team, [cad]);
    const carl = await newMember(gw, team, []);
    const dave = await newMember(gw, team, []);
    for (const who of [carl, dave]) {
      const sub = { autodeskId: who.autodeskId, product: viz, startsAt: '2025-06-01T00:00:00Z', endsAt: '2026-06-01T00:00:00Z' };
      expectStatus(await gw.op.post('/v1/subscriptions', sub), 201);
    }
    await launchOnDays(ann, cad, daysFrom('2025-06-01', 30));
    await launchOnDays(bob, cad, daysFrom('2025-07-01', 5));
    await launchOnDays(carl, viz, ['2025-06-01', '2025-08-01', '2025-08-01', '2025-09-10', '2026-01-05']);
    // Another team's heavy user of the same product is that team's business, not this advice's.
    await setClock(gw, '2025-06-01T08:00:00Z');
    const elsewhere = await newTeam(gw);
    expectStatus(await gw.op.post(`/v1/teams/${elsewhere}/purchases`, { tokens: 1000, pricePerToken: 300 }), 201);
    await launchOnDays(await newMember(gw, elsewhere, [cad]), cad, daysFrom('2025-06-01', 40));

    // Within June 2025 last year is June 2024 to May 2025: nothing used then.
    await setClock(gw, '2025-06-30T08:00:00Z');
    const early = expectStatus(await gw.op.get(`/v1/teams/${team}/advice`), 200);
    expect(early.flex).toEqual([]);

    // This month's use is not last year's: Ann's launch of 10 June 2026 counts nowhere below.
    await setClock(gw, '2026-06-10T08:00:00Z');
    await buy(gw, team, 10); // last year's lots have expired
    await launchOnDays(ann, cad, ['2026-06-10']);
    await setClock(gw, '2026-06-15T08:00:00Z');
    // The other team's advice, read first, folds its year of use into the monthly rollup.
    expect(expectStatus(await gw.op.get(`/v1/teams/${elsewhere}/advice`), 200).flex).toHaveLength(1);
    const a = expectStatus(await gw.op.get(`/v1/teams/${team}/advice`), 200);
    expect(a.year).toEqual({ from: '2025-06-01T00:00:00.000Z', to: '2026-06-01T00:00:00.000Z' });
    expect(a.pricePerToken).toMatchObject({ average: 100, basisTokens: 5000 });
    // Ann: 30 days × 10 tokens × $1.00 = $300 against $200 a year. Bob's $50 stays on Flex.
    expect(a.flex).toEqual([
      {
        autodeskId: ann.autodeskId,
        product: cad,
        tokensLastYear: 300,
        daysLastYear: 30,
        costLastYear: 30_000,
        subscriptionPricePerYear: 20_000,
        saving: 10_000,
      },
    ]);
    // Carl launched his on 4 days, the year's first among them ($20 through Flex); Dave never: both subscriptions cost $500.
    expect(a.subscriptions.map((s: any) => [s.autodeskId, s.daysUsed, s.flexCost, s.subscriptionCost, s.saving])).toEqual([
      [dave.autodeskId, 0, 0, 50_000, 50_000],
      [carl.autodeskId, 4, 2000, 50_000, 48_000],
    ]);
    expect(a.total).toEqual({ flexSaving: 10_000, subscriptionSaving: 98_000 });

    const csv = await gw.op.get(`/v1/teams/${team}/advice?format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="flex-advice-${team}-2025-06-2026-05.csv"`);
    const rows = parseCsvText(csv.text);
    expect(rows[0]).toEqual([
      'Email',
      'Name',
      'Product',
      'Advice',
      'Days used',
      'Tokens',
      'Flex cost',
      'Subscription price',
      'Saving',
      'Currency',
    ]);
    expect(rows.slice(1).map((r) => [r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]])).toEqual([
      [ann.autodeskId, cad, 'subscribe', '30', '300', '300.00', '200.00', '100.00', 'USD'],
      [dave.autodeskId, viz, 'use Flex', '0', '0', '0.00', '500.00', '500.00', 'USD'],
      [carl.autodeskId, viz, 'use Flex', '4', '20', '20.00', '500.00', '480.00', 'USD'],
    ]);
    // A spreadsheet asking by its Accept header gets the same file; an explicit format wins over it.
    const accepted = await gw.op.get(`/v1/teams/${team}/advice`, { accept: 'text/csv' });
    expect([accepted.headers.get('content-type'), accepted.text]).toEqual(['text/csv; charset=utf-8', csv.text]);
    const json = await gw.op.get(`/v1/teams/${team}/advice?format=json`, { accept: 'text/csv' });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.body.total).toEqual(a.total);
    const other = await newAdmin(gw, [await newTeam(gw)]);
    expect((await other.api.get(`/v1/teams/${team}/advice`)).status).toBe(403);
    const annToday = await again(ann);
    expect((await annToday.api.get(`/v1/teams/${team}/advice`)).status).toBe(403);
  });
});

describe('the monthly rollup behind the advice', () => {
  it('R15: adds up to the ledger per user and product, a refund counted in its charge’s month across a month’s end', async () => {
    await setClock(gw, '2025-05-30T08:00:00Z');
    const [p1, p2] = [await newProduct(4, 0), await newProduct(6, 0)]; // a free subscription: every Flex use is listed
    const team = await newTeam(gw);
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 5000, pricePerToken: 3 }), 201);
    const ann = await newMember(gw, team, [p1, p2]);
    const bob = await newMember(gw, team, [p1]);
    await launchOnDays(ann, p1, daysFrom('2025-05-30', 4)); // 30, 31 May, 1, 2 June
    await launchOnDays(bob, p1, ['2025-07-15']);
    // Opened at 23:58 on 31 May, refunded at 00:01 on 1 June: neither month counts it.
    await setClock(gw, '2025-05-31T23:58:00Z');
    const late = expectStatus(await (await again(ann)).api.post('/v1/launch', { product: p2 }), 200);
    await setClock(gw, '2025-06-01T00:01:00Z');
    expect(expectStatus(await (await again(ann)).api.post(`/v1/sessions/${late.session.id}/end`), 200).refunded).toBe(6);
    await setClock(gw, '2025-06-10T10:00:00Z');
    expectStatus(await (await again(ann)).api.post('/v1/launch', { product: p2 }), 200);

    await setClock(gw, '2026-06-05T08:00:00Z'); // last year: June 2025 to May 2026
    const a = expectStatus(await gw.op.get(`/v1/teams/${team}/advice`), 200);
    const fromLedger = new Map<string, number>();
    const entries = expectStatus(await gw.op.get(`/v1/teams/${team}/ledger?limit=10000`), 200) as any[];
    const chargedAt = new Map(entries.filter((e) => e.kind === 'charge').map((e) => [e.sessionId, e.at as string]));
    for (const e of entries) {
      if (e.kind !== 'charge' && e.kind !== 'refund') continue;
      const at = e.kind === 'refund' ? (chargedAt.get(e.sessionId) as string) : e.at;
      if (at < '2025-06-01' || at >= '2026-06-01') continue;
      const key = `${e.autodeskId} ${e.product}`;
      fromLedger.set(key, (fromLedger.get(key) ?? 0) - e.tokens);
    }
    const listed = new Map(a.flex.map((r: any) => [`${r.autodeskId} ${r.product}`, r.tokensLastYear]));
    expect(listed).toEqual(new Map([...fromLedger].filter(([, t]) => t > 0)));
    expect(listed.get(`${ann.autodeskId} ${p1}`)).toBe(8); // 1 and 2 June
    expect(listed.get(`${ann.autodeskId} ${p2}`)).toBe(6); // 10 June; the refunded 31 May counts nowhere
    expect(listed.get(`${bob.autodeskId} ${p1}`)).toBe(4);
    expect(a.flex.find((r: any) => r.autodeskId === bob.autodeskId)).toMatchObject({
      costLastYear: 12,
      subscriptionPricePerYear: 0,
      saving: 12,
    });
  });
});

describe('a user sees their own usage', () => {
  it("R15: their sessions and tokens by day and product, a refunded short launch counting nothing, nobody else's", async () => {
    await setClock(gw, '2026-04-01T10:00:00Z');
    const team = await newTeam(gw, 1000);
    const ann = await newMember(gw, team, ['autocad', 'revit', 'maya']);
    const bob = await newMember(gw, team, ['autocad']);
    expectStatus(await ann.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await ann.api.post('/v1/launch', { product: 'revit' }), 200);
    expectStatus(await bob.api.post('/v1/launch', { product: 'autocad' }), 200);
    await setClock(gw, '2026-04-02T11:00:00Z');
    expectStatus(await ann.api.post('/v1/launch', { product: 'autocad' }), 200);
    const quick = expectStatus(await ann.api.post('/v1/launch', { product: 'maya' }), 200);
    expectStatus(await ann.api.post(`/v1/sessions/${quick.session.id}/end`), 200);

    const mine = expectStatus(await ann.api.get('/v1/me/usage?from=2026-04-01&to=2026-04-02'), 200);
    expect(mine).toMatchObject({ autodeskId: ann.autodeskId, from: '2026-04-01T00:00:00.000Z', to: '2026-04-03T00:00:00.000Z' });
    expect(mine.rows.map((r: any) => [r.day, r.product, r.productName, r.team, r.tokens, r.sessions])).toEqual([
      ['2026-04-01', 'autocad', 'AutoCAD', team, 7, 1],
      ['2026-04-01', 'revit', 'Revit', team, 10, 1],
      ['2026-04-02', 'autocad', 'AutoCAD', team, 7, 1],
    ]);
    expect(mine.total).toEqual({ tokens: 24, sessions: 3 });
    // The default is the last 30 days, today included.
    expect(expectStatus(await ann.api.get('/v1/me/usage'), 200).total).toEqual({ tokens: 24, sessions: 3 });
    expect(expectStatus(await bob.api.get('/v1/me/usage'), 200).rows).toEqual([expect.objectContaining({ product: 'autocad', tokens: 7 })]);
    expect(expectStatus(await ann.api.get('/v1/me/usage?from=2026-04-02'), 200).total).toEqual({ tokens: 7, sessions: 1 });
  });

  it('checks the range as the team report does, and is for signed-in users only', async () => {
    await setClock(gw, '2026-04-02T11:00:00Z');
    const user = await signIn(gw, await newAccount(gw));
    for (const q of ['from=2026-02-30', 'from=2026-04-03&to=2026-04-01', 'from=2020-01-01&to=2026-01-01', 'to=yesterday']) {
      const r = await user.api.get(`/v1/me/usage?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.code).toBe('invalid-request');
      const team = await gw.op.get(`/v1/teams/${await newTeam(gw)}/usage?${q}`);
      expect(team.status, `team report: ${q}`).toBe(400);
    }
    expect((await gw.op.get('/v1/me/usage')).status).toBe(403);
    expect((await gw.anon.get('/v1/me/usage')).status).toBe(401);
  });
});
