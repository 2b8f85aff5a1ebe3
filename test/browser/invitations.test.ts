import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, type newAdmin, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { cacheDirs, runFlexgate } from '../harness/client-e2e';
import { newAccount, newTeam, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let gw: TestGateway;
let browser: Browser;
let team: string;
let admin: Awaited<ReturnType<typeof newAdmin>>;
let adminKey: string;
const dirs = cacheDirs();

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed());
  team = await newTeam(gw, 100);
  const created = expectStatus(await gw.op.post('/v1/admins', { name: 'Audrey Admin', email: uniqueEmail('admin'), teams: [team] }), 201);
  adminKey = created.key;
  admin = { id: created.id, email: created.email, api: gw.anon.as(created.key) };
});

afterAll(async () => {
  await closeTestbed({ gw, browser });
  dirs.cleanup();
});

/** The link of the latest invitation e-mail to `to`, as the person's mail program shows it. */
async function linkTo(to: string): Promise<string> {
  const mail = (await mailsTo(gw, to)).filter((m) => m.kind === 'invitation').at(-1);
  const link = /^Link: (\S+)$/m.exec(mail?.text ?? '')?.[1];
  if (!link) throw new Error(`no link in the invitation to ${to}`);
  return link;
}

async function openInvitation(link: string, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const response = await page.goto(link);
  return { context, page, response };
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}invitation-${name}.png`, fullPage: true });

/** Each header cell of each table starts where the cells of its column start (no shifted columns). */
async function expectAlignedTables(page: Page): Promise<void> {
  const offsets = (await page.evaluate(`[...document.querySelectorAll('table')].map((t) => {
    const head = [...t.querySelectorAll('thead th')].map((c) => Math.round(c.getBoundingClientRect().left));
    const row = t.querySelector('tbody tr');
    const body = row ? [...row.children].map((c) => Math.round(c.getBoundingClientRect().left)) : head;
    return { head, body };
  })`)) as { head: number[]; body: number[] }[];
  expect(offsets.length).toBeGreaterThan(0);
  for (const t of offsets) expect(t.body).toEqual(t.head);
}

describe('accepting an invitation in a browser (R11)', () => {
  it('a new person opens the link, sets a password and accepts; then `flexgate signin` works for them', async () => {
    const email = uniqueEmail('newcomer');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Nora Newcomer <${email}>`, products: ['autocad'] }), 201);
    const link = await linkTo(email);
    const { context, page, response } = await openInvitation(link);
    // The token is in the address: the page sends no Referer anywhere, and is never cached.
    expect(response?.headers()['referrer-policy']).toBe('no-referrer');
    expect(response?.headers()['cache-control']).toBe('no-store');
    expect(await page.textContent('h1')).toContain('Join');
    expect(await page.textContent('main')).toContain('Nora Newcomer');
    await shot(page, 'new-1280');

    await page.fill('input[name="password"]', 'nora-password-1');
    await page.fill('input[name="repeat"]', 'nora-password-2');
    await page.click('button:has-text("Set password and accept")');
    expect(await page.textContent('.banner.err')).toContain('differ');
    await page.fill('input[name="password"]', 'nora-password-1');
    await page.fill('input[name="repeat"]', 'nora-password-1');
    await page.click('button:has-text("Set password and accept")');
    await page.waitForSelector('h1:has-text("Welcome")');
    expect(await page.textContent('main')).toContain(email);
    // The address bar no longer holds the token once the form is posted.
    expect(page.url()).not.toContain('token=');
    await shot(page, 'new-accepted');
    await context.close();

    const members = expectStatus(await admin.api.get(`/v1/teams/${team}/members`), 200);
    expect(members.find((m: any) => m.autodeskId === email)).toMatchObject({ status: 'active' });
    const signin = await runFlexgate(['signin', '--user', email], {
      FLEXGATE_URL: gw.url,
      FLEXGATE_CACHE_DIR: dirs.make(),
      FLEXGATE_PASSWORD: 'nora-password-1',
    });
    expect(signin.code, signin.stderr).toBe(0);
  });

  it('someone with an account is asked: the page takes their password (a wrong one is refused), then they are a member', async () => {
    const account = await newAccount(gw, 'existing');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['revit'] }), 201);
    const { context, page } = await openInvitation(await linkTo(account.autodeskId), PHONE);
    expect(await page.locator('input[name="repeat"]').count()).toBe(0);
    await shot(page, 'existing-390');
    await page.fill('input[name="password"]', 'not-my-password');
    await page.click('button:has-text("Sign in and accept")');
    expect(await page.textContent('.banner.err')).toContain('not the password');
    await page.fill('input[name="password"]', account.password);
    await page.click('button:has-text("Sign in and accept")');
    await page.waitForSelector('h1:has-text("Welcome")');
    await context.close();
    const user = await signIn(gw, account);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'revit', team }), 200).source).toBe('flex');
  });

  it('a person may decline: they are no longer listed, and the link is dead', async () => {
    const email = uniqueEmail('decliner');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Dee Cline <${email}>` }), 201);
    const link = await linkTo(email);
    const { context, page } = await openInvitation(link);
    await page.click('button:has-text("Decline")');
    await page.waitForSelector('h1:has-text("Invitation declined")');
    const again = await page.goto(link);
    expect(again?.status()).toBe(404);
    await context.close();
    const members = expectStatus(await admin.api.get(`/v1/teams/${team}/members`), 200);
    expect(members.some((m: any) => m.autodeskId === email)).toBe(false);
  });

  it('a form posted from another page (no CSRF cookie) accepts nothing', async () => {
    const email = uniqueEmail('forged');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `For Ged <${email}>` }), 201);
    const token = new URL(await linkTo(email)).searchParams.get('token') as string;
    const forged = await fetch(`${gw.url}/console/invitations/accept`, {
      method: 'POST',
      body: new URLSearchParams({ token, answer: 'accept', password: 'forged-password', repeat: 'forged-password', _csrf: 'x' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.status).toBe(403);
    const members = expectStatus(await admin.api.get(`/v1/teams/${team}/members`), 200);
    expect(members.find((m: any) => m.autodeskId === email)).toMatchObject({ status: 'invited' });
  });
});

describe('the audit page', () => {
  it("lists what admins did (the console's own changes too), filters by action and downloads CSV", async () => {
    // An invitation of its own, declined: what the trail shows whatever ran before.
    const email = uniqueEmail('audit-decliner');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Dee Cline <${email}>` }), 201);
    const declining = await openInvitation(await linkTo(email));
    await declining.page.click('button:has-text("Decline")');
    await declining.page.waitForSelector('h1:has-text("Invitation declined")');
    await declining.context.close();
    for (const viewport of [DESKTOP, PHONE]) {
      const context = await browser.newContext({ viewport, baseURL: gw.url });
      const page = await context.newPage();
      await page.goto('/console/signin');
      await page.fill('input[name="key"]', adminKey);
      await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
      if (viewport === DESKTOP) {
        // A change made in the console is recorded as the console's, with before and after.
        await page.click('a.tab:has-text("Defaults")');
        await page.check('input[name="product"][value="maya"]');
        await Promise.all([page.waitForURL(/done=defaults/), page.click('button:has-text("Save defaults")')]);
      }
      await page.click('a.tab:has-text("Audit")');
      await page.waitForSelector('h1:has-text("Audit trail")');
      const change = page.locator('table.audit tr[data-action="defaults.changed"]');
      expect(await change.textContent()).toContain('Audrey Admin (console)');
      expect(await change.textContent()).toContain('After: products: maya');
      const rows = page.locator('table.audit tbody tr');
      expect(await rows.count()).toBeGreaterThan(3);
      expect(await page.textContent('table.audit')).toContain('member.invited');
      expect(await page.textContent('table.audit')).toContain('Audrey Admin (API key)');
      if (viewport === DESKTOP) await expectAlignedTables(page);
      await shot(page, `audit-${viewport.width}`);

      await page.selectOption('select[name="action"]', 'invitation.declined');
      await Promise.all([page.waitForURL(/action=invitation.declined/), page.click('button:has-text("Show")')]);
      expect(await rows.count()).toBeGreaterThan(0);
      expect(await page.locator('table.audit tbody tr:not([data-action="invitation.declined"])').count()).toBe(0);
      expect(await page.textContent('table.audit')).toContain(email);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Download CSV")')]);
      expect(download.suggestedFilename()).toMatch(/^audit-.*\.csv$/);
      await context.close();
    }
  });
});
