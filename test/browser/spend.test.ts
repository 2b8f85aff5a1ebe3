import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { joinTeam, newAccount, setClock, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-06-15T10:00:00Z');
const DAY = 86_400_000;

let gw: TestGateway;
let browser: Browser;
let team: string;
let adminKey: string;
let heavy: string;
let light: string;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed('2026-05-01T08:00:00Z'));
  expectStatus(await gw.op.patch('/v1/products/revit', { subscriptionPricePerYear: 20_000 }), 200);
  expectStatus(await gw.op.patch('/v1/products/maya', { subscriptionPricePerYear: 50_000 }), 200);
  team = expectStatus(await gw.op.post('/v1/teams', { name: 'Spend Studio' }), 201).id;
  // 900 tokens at $1.20 bought 340 days before T0: they expire 25 days after it.
  const old = { tokens: 900, pricePerToken: 120, purchasedAt: new Date(T0.getTime() - 340 * DAY).toISOString() };
  expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, old), 201);
  adminKey = expectStatus(await gw.op.post('/v1/admins', { name: 'Sam Spend', email: uniqueEmail('admin'), teams: [team] }), 201).key;
  const h = await newAccount(gw, 'heavy');
  const l = await newAccount(gw, 'light');
  heavy = h.autodeskId;
  light = l.autodeskId;
  await joinTeam(gw, team, h, { products: ['revit'] });
  await joinTeam(gw, team, l, { products: [] });
  const sub = { autodeskId: light, product: 'maya', startsAt: '2025-06-01T00:00:00Z', endsAt: '2026-06-01T00:00:00Z' };
  expectStatus(await gw.op.post('/v1/subscriptions', sub), 201);
  // Revit every day from 1 May to 14 June (a minute later each day: the previous session has ended).
  for (let d = 0; d < 45; d++) {
    await setClock(gw, new Date(Date.parse('2026-05-01T09:00:00Z') + d * (DAY + 60_000)));
    const user = await signIn(gw, h);
    expectStatus(await user.api.post('/v1/launch', { product: 'revit' }), 200);
  }
  await setClock(gw, T0);
  expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 1000, pricePerToken: 100 }), 201);
});

afterAll(() => closeTestbed({ gw, browser }));

async function signedIn(viewport: { width: number; height: number }, key = adminKey): Promise<Page> {
  const context = await browser.newContext({ viewport, baseURL: gw.url });
  const page = await context.newPage();
  await page.goto('/console/signin');
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
  return page;
}

describe('console: spend', () => {
  it('R2: shows when the balance runs out at the current rate, the tokens that will expire unused, and the lots priced in dollars', async () => {
    const page = await signedIn({ width: 1280, height: 900 });
    await page.click('a.tab:has-text("Spend")');
    expect(page.url()).toContain(`/console/teams/${team}/spend`);
    // 450 tokens left in the old lot, 25 days to go at 10 a day: 250 used, 200 lost; then 1,000 more last until 17 October.
    expect((await page.textContent('[data-testid="daily-burn"]'))?.trim()).toBe('10');
    expect((await page.textContent('[data-testid="runs-out"]'))?.trim()).toBe('17 Oct 2026');
    expect((await page.textContent('[data-testid="at-risk"]'))?.trim()).toBe('200');
    expect(await page.textContent('.cards')).toContain('worth $240.00');
    const api = expectStatus(await gw.op.get(`/v1/teams/${team}/forecast`), 200);
    expect(api).toMatchObject({ runsOutOn: '2026-10-17', atRisk: 200, dailyBurn: 10, smallestRate: 10, stranded: 0 });
    expect(await page.locator('[data-testid="stranded"]').count()).toBe(0);

    // The chart: the projected balance as a line, each lot's expiry a marker, the one with unused tokens labelled.
    const chart = page.locator('svg.chart.wide');
    expect(await chart.locator('[data-testid="projection"]').count()).toBe(1);
    expect(await chart.locator('[data-testid="expiry"]').count()).toBe(2);
    expect(await chart.locator('line.expiry.at-risk').count()).toBe(1);
    expect(await chart.locator('text.expiry-label').textContent()).toBe('−200');
    expect(await chart.getAttribute('aria-label')).toContain('runs out on 2026-10-17');

    const lots = page.locator('table.lots tbody tr');
    expect(await lots.count()).toBe(2);
    expect(await lots.nth(0).textContent()).toContain('$1.20');
    expect(await lots.nth(1).textContent()).toContain('$1.00');
    expect(await page.textContent('tr[data-product="revit"]')).toContain('$200.00');
    expect(await page.textContent('tr[data-product="autocad"]')).toContain('—');
    await page.screenshot({ path: `${ARTIFACTS}console-spend.png`, fullPage: true });
    await page.context().close();
  });

  it('R6: says in words that the tokens left below a day of any product will expire unused, and from when', async () => {
    // A team of its own from 12 June: 40 tokens, AutoCAD (7 a day) on the 12th, 13th and 14th: 19 left at T0.
    await setClock(gw, '2026-06-12T08:00:00Z');
    const small = expectStatus(await gw.op.post('/v1/teams', { name: 'Small Studio' }), 201).id;
    expectStatus(await gw.op.post(`/v1/teams/${small}/purchases`, { tokens: 40, pricePerToken: 100 }), 201);
    const key = expectStatus(await gw.op.post('/v1/admins', { name: 'Sue Small', email: uniqueEmail('admin'), teams: [small] }), 201).key;
    const user = await newAccount(gw, 'small');
    await joinTeam(gw, small, user, { products: ['autocad'] });
    for (let d = 0; d < 3; d++) {
      await setClock(gw, new Date(Date.parse('2026-06-12T09:00:00Z') + d * (DAY + 60_000)));
      expectStatus(await (await signIn(gw, user)).api.post('/v1/launch', { product: 'autocad' }), 200);
    }
    await setClock(gw, T0);
    const page = await signedIn({ width: 1280, height: 900 }, key);
    await page.goto(`/console/teams/${small}/spend`);
    // 19 -> 12 today -> 5 tomorrow, which pay no day of AutoCAD: it runs out tomorrow, and the 5 expire unused.
    expect((await page.textContent('[data-testid="runs-out"]'))?.trim()).toBe('16 Jun 2026');
    expect(await page.textContent('.cards')).toContain('when the burn leaves less than a day of any product');
    expect((await page.textContent('[data-testid="at-risk"]'))?.trim()).toBe('5');
    expect((await page.textContent('[data-testid="stranded"]'))?.trim()).toBe(
      "From 16 Jun 2026, the 5 tokens left can pay no product's day (the cheapest product launched lately takes 7 tokens a day): they will expire unused.",
    );
    expect(await page.locator('svg.chart.wide circle.runs-out title').textContent()).toBe(
      'Runs out on 2026-06-16: 5 tokens left, less than a day of any product',
    );
    await page.screenshot({ path: `${ARTIFACTS}console-spend-stranded.png`, fullPage: true });
    await page.context().close();
  });

  it('R3: offers to move the tokens that will expire unused only to an admin with another team to move them to', async () => {
    // Sam manages only this team: the Move page would say no move is possible, so Spend does not offer one.
    const lone = await signedIn({ width: 1280, height: 900 });
    await lone.goto(`/console/teams/${team}/spend`);
    const loneBanner = lone.locator('[data-testid="expiring-unused"]');
    expect((await loneBanner.textContent())?.replace(/\s+/g, ' ').trim()).toBe(
      'At the current rate 200 tokens will expire unused. Buy fewer next time.',
    );
    expect(await loneBanner.textContent()).not.toMatch(/move/i);
    await lone.context().close();

    // An admin of two teams is offered the move, a link to the Move page that offers the other team.
    const other = expectStatus(await gw.op.post('/v1/teams', { name: 'Other Studio' }), 201).id;
    const key = expectStatus(
      await gw.op.post('/v1/admins', { name: 'Tia Two', email: uniqueEmail('admin'), teams: [team, other] }),
      201,
    ).key;
    const page = await signedIn({ width: 1280, height: 900 }, key);
    await page.goto(`/console/teams/${team}/spend`);
    const banner = page.locator('[data-testid="expiring-unused"]');
    expect((await banner.textContent())?.replace(/\s+/g, ' ').trim()).toBe(
      'At the current rate 200 tokens will expire unused. Move them to a team that needs them before they expire, or buy fewer next time.',
    );
    await Promise.all([page.waitForURL(/\/tokens\/move$/), banner.locator('a:has-text("Move them")').click()]);
    expect(await page.locator('select[name="toTeam"] option').allTextContents()).toEqual(['Other Studio']);
    await page.context().close();
  });

  it('draws the compact chart on a phone, within the window', async () => {
    const page = await signedIn({ width: 390, height: 844 });
    await page.goto(`/console/teams/${team}/spend`);
    expect(await page.locator('svg.chart.compact').isVisible()).toBe(true);
    expect(await page.locator('svg.chart.wide').isVisible()).toBe(false);
    const { scroll, inner } = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })')) as {
      scroll: number;
      inner: number;
    };
    expect(scroll).toBeLessThanOrEqual(inner);
    await page.screenshot({ path: `${ARTIFACTS}console-spend-phone.png`, fullPage: true });
    await page.context().close();
  });

  it("advises a subscription where last year's Flex cost more, and Flex for a subscription never launched; the CSV says the same", async () => {
    const page = await signedIn({ width: 1280, height: 900 });
    await page.click('a.tab:has-text("Advice")');
    // Last year is June 2025 to May 2026: 31 days of Revit in May at $1.20 a token = $372, against $200.
    expect(await page.textContent('[data-testid="price-basis"]')).toContain('$1.20');
    const flex = page.locator('table[data-testid="advice-flex"] tbody tr');
    expect(await flex.count()).toBe(1);
    const row = (await flex.textContent()) ?? '';
    for (const text of [heavy, 'Revit', '310', '$372.00', '$200.00', '$172.00']) expect(row).toContain(text);
    // The person by name, linked to their page; the Autodesk ID under it.
    expect(await flex.locator('a').first().textContent()).toMatch(/^heavy [0-9a-f]{8}$/);
    const subs = page.locator('table[data-testid="advice-subscriptions"] tbody tr');
    expect(await subs.count()).toBe(1);
    for (const text of [light, 'Maya', '$500.00']) expect(await subs.textContent()).toContain(text);

    const href = await page.getAttribute('a:has-text("Download CSV")', 'href');
    const csv = await page.request.get(href as string);
    expect(csv.headers()['content-disposition']).toContain('attachment; filename="flex-advice-');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('Email,Name,Product,Advice,Days used,Tokens,Flex cost,Subscription price,Saving,Currency');
    expect(lines.slice(1).map((l) => l.split(',').slice(2))).toEqual([
      ['revit', 'subscribe', '31', '310', '372.00', '200.00', '172.00', 'USD'],
      ['maya', 'use Flex', '0', '0', '0.00', '500.00', '500.00', 'USD'],
    ]);
    await page.screenshot({ path: `${ARTIFACTS}console-advice.png`, fullPage: true });
    await page.context().close();
  });
});
