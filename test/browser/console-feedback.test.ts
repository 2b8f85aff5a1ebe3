/**
 * What an admin reads when the console refuses or reports something: in a real headless Chromium
 * against a real gateway. A refusal keeps the admin on the page they were using and says it in the
 * page's words (days as the console writes them, no API route), where they can see it.
 */
import { writeFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { newTeam } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');
const DESKTOP = { width: 1280, height: 800 };
const ISO_INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
});

afterAll(() => closeTestbed({ gw, browser }));

/** A team and its admin, signed in to the console in a fresh browser profile. */
async function adminOfNewTeam(tokens = 100): Promise<{ team: string; context: BrowserContext; page: Page }> {
  const team = await newTeam(gw, tokens);
  const { key } = expectStatus(await gw.op.post('/v1/admins', { name: 'Rita Review', email: uniqueEmail('admin'), teams: [team] }), 201);
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
  const page = await context.newPage();
  await page.goto('/console');
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
  return { team, context, page };
}

describe('console refusals, as an admin reads them', () => {
  it("a resend past the person's daily cap stays on Members with a banner, the day written as the console writes days", async () => {
    const { team, context, page } = await adminOfNewTeam();
    const email = uniqueEmail('capped');
    await page.goto(`/console/teams/${team}/members`);
    await page.fill('input[name="invite"]', `Cap Ped <${email}>`);
    await Promise.all([page.waitForURL(/done=invited/), page.click('button:has-text("Send invitation")')]);
    const resend = () =>
      Promise.all([
        page.waitForEvent('response', (r) => r.url().endsWith('/resend')),
        page.click(`tr[data-member="${email}"] button:has-text("Resend")`),
      ]);
    for (let i = 0; i < 2; i++) {
      await resend();
      await page.waitForURL(/done=resent/);
    }
    // The fourth e-mail in 24 hours is refused: the admin is told so on the list, not on a dead-end page.
    const [res] = await resend();
    expect(res.status()).toBe(429);
    await page.waitForLoadState();
    expect(await page.textContent('h1')).toBe('Members');
    const banner = (await page.textContent('.banner.err')) ?? '';
    expect(banner).toContain('The invitation was not sent again');
    expect(banner).toContain('16 Mar 2026, 10:00 UTC');
    expect(banner).not.toMatch(ISO_INSTANT);
    await page.screenshot({ path: `${ARTIFACTS}console-feedback-resend-capped.png`, fullPage: true });

    // Inviting the same person again names the Resend button's job, not an API route.
    await page.fill('input[name="invite"]', `Cap Ped <${email}>`);
    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Send invitation")')]);
    const again = (await page.textContent('.banner.err')) ?? '';
    expect(again).toContain('already invited to this team; resend the invitation instead');
    expect(again).not.toContain('/v1/');
    await context.close();
  });

  it('a refused CSV file is said where the page opens, not below the list beside the form', async () => {
    const { team, context, page } = await adminOfNewTeam();
    // A few members push the import form below the fold of an 800 px window, as any real team does.
    const csv = `${ARTIFACTS}console-feedback-members-${team}.csv`;
    writeFileSync(csv, `name,email\n${Array.from({ length: 8 }, (_, i) => `Person ${i},${uniqueEmail(`p${i}`)}`).join('\n')}\n`);
    await page.goto(`/console/teams/${team}/members`);
    await page.setInputFiles('input[name="file"]', csv);
    await Promise.all([page.waitForSelector('#import-result'), page.click('button:has-text("Import")')]);

    const wrong = `${ARTIFACTS}console-feedback-wrong-${team}.csv`;
    writeFileSync(wrong, 'nom;courriel\nAnn;ann@example.com\n');
    await page.setInputFiles('input[name="file"]', wrong);
    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Import")')]);
    const banner = page.locator('.banner.err');
    expect(await banner.textContent()).toContain('Nothing was imported: Line 1: unknown column');
    expect(await banner.isVisible()).toBe(true);
    const box = await banner.boundingBox();
    expect(box && box.y + box.height, 'the refusal is within the first screen').toBeLessThanOrEqual(DESKTOP.height);
    await page.screenshot({ path: `${ARTIFACTS}console-feedback-import-refused.png` });
    await context.close();
  });

  it('an emptied lot near its expiry is "used up" on the overview, not a warning that tokens will be lost', async () => {
    const { team, context, page } = await adminOfNewTeam(0);
    const DAY = 86_400_000;
    const old = expectStatus(
      await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 20, purchasedAt: new Date(T0.getTime() - 340 * DAY).toISOString() }),
      201,
    );
    const fresh = expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 100 }), 201);
    // The oldest lot moves first (R3): the one expiring in 25 days is left empty.
    expectStatus(await gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: await newTeam(gw), tokens: 20 }), 201);
    await page.goto(`/console/teams/${team}`);
    const row = page.locator(`tr[data-lot="${old.lotId}"]`);
    expect(await row.locator('.badge').textContent()).toBe('used up');
    expect(await page.locator('tr.soon').count()).toBe(0);
    expect(await page.locator(`tr[data-lot="${fresh.lotId}"] .badge`).textContent()).toBe('365 days left');
    await context.close();
  });

  it('switching team keeps the page the admin is on', async () => {
    const [first, second] = [await newTeam(gw, 10), await newTeam(gw, 10)];
    const { key } = expectStatus(
      await gw.op.post('/v1/admins', { name: 'Two Teams', email: uniqueEmail('admin'), teams: [first, second] }),
      201,
    );
    const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
    const page = await context.newPage();
    await page.goto('/console');
    await page.fill('input[name="key"]', key);
    await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
    await page.goto(`/console/teams/${first}/usage?range=3m`);
    await Promise.all([page.waitForURL(new RegExp(`/teams/${second}/usage$`)), page.selectOption('#team-switch', second)]);
    expect(await page.textContent('a.tab.active')).toBe('Usage');
    await page.goto(`/console/inspect?team=${second}`);
    await Promise.all([page.waitForURL(new RegExp(`/console/inspect\\?team=${first}$`)), page.selectOption('#team-switch', first)]);
    await context.close();
  });

  it("an invited member's page does not promise an e-mail that saving their products will not send", async () => {
    const { team, context, page } = await adminOfNewTeam();
    const email = uniqueEmail('pending');
    await page.goto(`/console/teams/${team}/members`);
    await page.fill('input[name="invite"]', `Pen Ding <${email}>`);
    await Promise.all([page.waitForURL(/done=invited/), page.click('button:has-text("Send invitation")')]);
    await page.click(`tr[data-member="${email}"] a:has-text("Access")`);
    const hint = page.locator('form:has(button:has-text("Save products")) p.hint');
    expect(await hint.textContent()).toContain('Saving e-mails nobody now');
    await page.check('input[name="product"][value="revit"]');
    await Promise.all([page.waitForURL(/done=products/), page.click('button:has-text("Save products")')]);
    expect((await mailsTo(gw, email)).map((m) => m.kind)).toEqual(['invitation']);
    await context.close();
  });

  it('signing in from a bookmark, or after the session ended, opens the page asked for, and only a console page', async () => {
    const team = await newTeam(gw, 10);
    const { key } = expectStatus(await gw.op.post('/v1/admins', { name: 'Book Mark', email: uniqueEmail('admin'), teams: [team] }), 201);
    const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
    const page = await context.newPage();
    await page.goto(`/console/teams/${team}/usage?by=product&range=3m`);
    expect(page.url()).toContain('/console/signin');
    await page.fill('input[name="key"]', key);
    await Promise.all([page.waitForURL(/\/usage\?by=product&range=3m$/), page.click('button:has-text("Sign in")')]);
    expect(await page.textContent('a.tab.active')).toBe('Usage');

    // A link made elsewhere cannot send the admin off the console after signing in.
    const other = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
    const fresh = await other.newPage();
    await fresh.goto('/console/signin?next=%2F%2Fevil.example%2Fconsole%2Fx');
    await fresh.fill('input[name="key"]', key);
    await Promise.all([fresh.waitForURL(new RegExp(`/console/teams/${team}$`)), fresh.click('button:has-text("Sign in")')]);
    await Promise.all([context.close(), other.close()]);
  });
});
