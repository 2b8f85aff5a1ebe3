/**
 * Making a member a guest, or a regular member, from their console page (R13), in a real headless
 * Chromium with JavaScript off (a plain form must do): the page says what it does to the team's
 * default products, the access explained follows, and the member's launches too. Screenshots go
 * to test/artifacts/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { joinTeam, newAccount, newTeam, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
});

afterAll(() => closeTestbed({ gw, browser }));

/** A fresh profile without JavaScript, signed in with `key`. */
async function signedIn(key: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: gw.url, javaScriptEnabled: false });
  const page = await context.newPage();
  // A button or row that is not there fails in seconds, not at the test's timeout.
  page.setDefaultTimeout(5000);
  await page.goto('/console');
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
  return page;
}

const hint = (page: Page) => page.locator('form[action$="/guest"] p.hint').textContent();
const explained = (page: Page, product: string) => page.locator(`tr[data-product="${product}"]`).getAttribute('class');

describe("console: a member's guest status (R13)", () => {
  it('"Make a guest" takes the team defaults away and "Make a regular member" gives them back, without JavaScript', async () => {
    const team = await newTeam(gw, 100);
    expectStatus(await gw.op.put(`/v1/teams/${team}/defaults`, { products: ['revit'] }), 200);
    const admin = expectStatus(await gw.op.post('/v1/admins', { name: 'Gus Guest', email: uniqueEmail('admin'), teams: [team] }), 201);
    const account = await newAccount(gw, 'guestable');
    await joinTeam(gw, team, account, { products: ['autocad'] });
    const user = await signIn(gw, account);
    const mails = async () => (await mailsTo(gw, account.autodeskId)).filter((m) => m.kind === 'access').length;

    const page = await signedIn(admin.key);
    await page.goto(`/console/teams/${team}/members/${encodeURIComponent(account.autodeskId)}`);
    expect(await hint(page)).toContain("is a regular member: the team's default products apply to them");
    expect(await hint(page)).toContain('Making them a guest takes away Revit. The member is e-mailed their new products.');
    expect(await explained(page, 'revit')).toBe('granted');

    await Promise.all([page.waitForURL(/done=guest/), page.click('button:has-text("Make a guest")')]);
    expect(await page.textContent('p.banner.ok')).toBe(
      `${account.autodeskId} is now a guest: the team's default products no longer apply to them.`,
    );
    expect(await page.textContent('p.lead')).toContain('guest');
    expect(await explained(page, 'revit')).toBe('refused');
    expect(await explained(page, 'autocad')).toBe('granted');
    expect(await hint(page)).toContain('Making them a regular member gives them Revit too.');
    await page.screenshot({ path: `${ARTIFACTS}member-guest.png`, fullPage: true });
    // The API, the audit trail, the e-mail and the member's next launch say the same.
    const member = expectStatus(await gw.op.get(`/v1/teams/${team}/members`), 200).find((m: any) => m.autodeskId === account.autodeskId);
    expect(member.guest).toBe(true);
    const [entry] = expectStatus(await gw.op.get(`/v1/teams/${team}/audit?action=member.guest.changed`), 200);
    expect(entry).toMatchObject({
      actor: `console:${admin.id}`,
      target: account.autodeskId,
      before: { guest: false },
      after: { guest: true },
    });
    expect(await mails()).toBe(1);
    const refused = await user.api.post('/v1/launch', { product: 'revit' });
    expect([refused.status, refused.body.rule]).toEqual([403, 'R13']);

    await Promise.all([page.waitForURL(/done=regular/), page.click('button:has-text("Make a regular member")')]);
    expect(await page.textContent('p.banner.ok')).toContain('is now a regular member');
    expect(await explained(page, 'revit')).toBe('granted');
    expect(await page.locator('button:has-text("Make a guest")').count()).toBe(1);
    expect(await mails()).toBe(2);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'revit' }), 200)).toMatchObject({ source: 'flex', charged: 10 });
    await page.context().close();
  });

  it('says when the change gives or takes nothing, and that a pending member is not e-mailed', async () => {
    const team = await newTeam(gw, 100);
    const admin = expectStatus(await gw.op.post('/v1/admins', { name: 'Nia None', email: uniqueEmail('admin'), teams: [team] }), 201);
    const account = await newAccount(gw, 'nodefaults');
    await joinTeam(gw, team, account, { products: ['autocad'] });
    const pending = uniqueEmail('pending');
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { invite: `Pen Ding <${pending}>`, guest: true }), 201);

    const page = await signedIn(admin.key);
    const open = (who: string) => page.goto(`/console/teams/${team}/members/${encodeURIComponent(who)}`);
    await open(account.autodeskId);
    expect(await hint(page)).toContain('The team has no default products now, so this changes nothing they may use today.');
    expectStatus(await gw.op.put(`/v1/teams/${team}/defaults`, { products: ['maya'] }), 200);
    await open(pending);
    expect(await hint(page)).toContain('is a guest: guests never get the team');
    expect(await hint(page)).toContain('Making them a regular member gives them Maya too. Nobody is e-mailed: they have not accepted yet.');
    await Promise.all([page.waitForURL(/done=regular/), page.click('button:has-text("Make a regular member")')]);
    expect((await mailsTo(gw, pending)).map((m) => m.kind)).toEqual(['invitation']);
    await page.context().close();
  });
});
