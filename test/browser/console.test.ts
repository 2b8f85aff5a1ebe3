/**
 * The admin console in a real headless Chromium against a real in-process gateway.
 * Every test leaves a screenshot in test/artifacts/ for a person to look at.
 */
import { writeFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, tokenOf, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, pageTestbed } from '../harness/browser';
import { buy, joinTeam, newAccount, newMember, setClock, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let gw: TestGateway;
let browser: Browser;
let teamA: string;
let teamC: string;
let teamB: string;
let adminKey: string;
let heavyUser: string;
/** One signed-in desktop browser profile shared by the tests that do not sign in or out themselves (each goes to its page first). */
let desk: { context: BrowserContext; page: Page };

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
  // Team A: a lot bought 340 days ago (expires within 30 days) and a fresh one.
  // Named so that the switcher lists A first (the console opens on the first team by name).
  const team = async (name: string) => expectStatus(await gw.op.post('/v1/teams', { name }), 201).id as string;
  teamA = await team('Acme Architects');
  await buy(gw, teamA, 300, new Date(T0.getTime() - 340 * DAY).toISOString());
  await buy(gw, teamA, 1000);
  teamC = await team('Zenith Studio');
  await buy(gw, teamC, 50);
  teamB = await team('Other Company'); // someone else's team
  await buy(gw, teamB, 80);
  const created = expectStatus(
    await gw.op.post('/v1/admins', { name: 'Ada Admin', email: uniqueEmail('admin'), teams: [teamA, teamC] }),
    201,
  );
  adminKey = created.key;

  // Some use over the last 30 days, on different days, so the chart has bars.
  const heavy = await newAccount(gw, 'heavy');
  heavyUser = heavy.autodeskId;
  const light = await newAccount(gw, 'light');
  await joinTeam(gw, teamA, heavy, { allProducts: true });
  await joinTeam(gw, teamA, light, { products: ['autocad'] });
  for (const [daysAgo, who, products] of [
    [20, heavy, ['autocad', 'revit']],
    [12, heavy, ['revit']],
    [12, light, ['autocad']],
    [5, heavy, ['maya', 'revit']],
    [2, light, ['autocad']],
    [0, heavy, ['civil-3d']],
  ] as const) {
    await setClock(gw, new Date(T0.getTime() - daysAgo * DAY));
    const user = await signIn(gw, who);
    for (const product of products) expectStatus(await user.api.post('/v1/launch', { product, team: teamA }), 200);
  }
  await setClock(gw, T0);
  desk = await signedIn(DESKTOP);
});

afterAll(async () => {
  await desk?.context.close();
  await browser?.close();
  await gw?.close();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}console-${name}.png`, fullPage: true });
}

/** A fresh browser profile signed in through the sign-in form. */
async function signedIn(viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: gw.url });
  const page = await context.newPage();
  await page.goto('/console');
  expect(page.url()).toContain('/console/signin');
  await page.fill('input[name="key"]', adminKey);
  await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
  return { context, page };
}

/** The page must not be wider than the window: wide tables scroll inside their own box. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  // A string, so that this Node-typed file needs no DOM typings.
  const { scroll, inner } = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })')) as {
    scroll: number;
    inner: number;
  };
  expect(scroll, `page ${page.url()} is ${scroll}px wide in a ${inner}px window`).toBeLessThanOrEqual(inner);
}

/**
 * Every table whose header shows: each header cell spans the same columns, at the same x and width,
 * as the cells of every body row (a tbody turned into a block by a stray rule breaks this).
 */
async function expectAlignedTables(page: Page): Promise<void> {
  const misaligned = (await page.evaluate(`(() => {
    const out = [];
    for (const table of document.querySelectorAll('table')) {
      const head = table.querySelector('thead tr');
      if (!head || head.getBoundingClientRect().height === 0) continue;
      const heads = [...head.children].map((c) => c.getBoundingClientRect());
      for (const row of table.querySelectorAll('tbody tr')) {
        const cells = [...row.children];
        if (cells.length !== heads.length) continue;
        cells.forEach((cell, i) => {
          const r = cell.getBoundingClientRect();
          const h = heads[i];
          if (Math.abs(r.left - h.left) > 1 || Math.abs(r.width - h.width) > 1)
            out.push((table.className || 'table') + ' column ' + (i + 1) + ': header ' + Math.round(h.left) + '+' + Math.round(h.width) + ', cell ' + Math.round(r.left) + '+' + Math.round(r.width));
        });
      }
    }
    return out;
  })()`)) as string[];
  expect(misaligned, `tables of ${page.url()}`).toEqual([]);
}

/** A rule number (R11, R7a): it means nothing to a person reading a page, and the console links nowhere to explain it. */
const RULE_NUMBER = /\bR\d+[a-z]?\b/;

/**
 * What a person reads on the page: its title, its text, and the attributes shown as text (tooltips,
 * placeholders, confirmation prompts, labels read aloud). Data is left out (entitlements, JSON, ids
 * in `.mono`): a random id or signature may well contain "-R12-".
 */
async function readableText(page: Page): Promise<string> {
  // A string, so that this Node-typed file needs no DOM typings.
  return (await page.evaluate(`(() => {
    const body = document.body.cloneNode(true);
    for (const e of body.querySelectorAll('pre, code, textarea, .mono')) e.remove();
    const shown = ['title', 'placeholder', 'aria-label', 'alt'];
    const attrs = [...document.body.querySelectorAll('*')].flatMap((e) => shown.map((a) => e.getAttribute(a) ?? ''));
    return [document.title, body.textContent, ...attrs].join('\\n');
  })()`)) as string;
}

async function expectNoRuleNumbers(page: Page): Promise<void> {
  const text = await readableText(page);
  expect(text, `${page.url()} shows ${RULE_NUMBER.exec(text)?.[0]}`).not.toMatch(RULE_NUMBER);
}

describe('admin console', () => {
  it('signs in with an admin key into an HttpOnly SameSite=Strict session, and sees the balance, the lots and the 30-day chart', async () => {
    // Its own sign-in, not the shared profile's: the page it lands on is what this test reads.
    const { context, page } = await signedIn(DESKTOP);
    expect(page.url()).toMatch(new RegExp(`/console/teams/${teamA}$`));
    const { balance } = expectStatus(await gw.op.get(`/v1/teams/${teamA}/balance`), 200);
    expect(await page.textContent('[data-testid="balance"]')).toBe(balance.toLocaleString('en-US'));

    // The chart: an inline SVG with bars on the days of use and both axes labelled.
    const chart = page.locator('svg.chart.wide');
    await expect(chart.count()).resolves.toBe(1);
    expect(await chart.locator('rect.bar').count()).toBe(5); // 5 distinct days of use in the last 30
    expect(await chart.locator('text.axis-title').allTextContents()).toEqual(['Day (UTC)', 'Tokens']);
    // The lot bought 340 days ago expires within 30 days: it stands out.
    const soon = page.locator('tr.soon');
    expect(await soon.count()).toBe(1);
    expect(await soon.textContent()).toMatch(/expires in 25 days/);
    // Top users and products.
    expect(await page.locator('section:has(h2:text("Top users")) tbody tr').first().textContent()).toContain(heavyUser);
    await shot(page, 'overview-1280');

    // The session: an opaque cookie, HttpOnly and SameSite=Strict; the key is nowhere on the page.
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'fg_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(session?.value).not.toContain('fga_');
    expect(await page.content()).not.toContain(adminKey);
    // Secure headers with a CSP that allows no inline script.
    const res = await page.request.get(`/console/teams/${teamA}`);
    expect(res.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res.headers()['content-security-policy']).not.toMatch(/unsafe-inline/);
    expect(res.headers()['x-frame-options']).toBe('DENY');

    // A form posted without the CSRF token is refused.
    const forged = await page.request.post(`/console/teams/${teamA}/defaults`, { form: { product: 'autocad' } });
    expect(forged.status()).toBe(403);
    expect(expectStatus(await gw.op.get(`/v1/teams/${teamA}/defaults`), 200).products).toEqual([]);
    await context.close();
  });

  it('refuses a wrong admin key without echoing it; signing out ends the session for good', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
    const page = await context.newPage();
    await page.goto('/console/signin');
    await page.fill('input[name="key"]', 'fga_not-a-real-key-at-all');
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('.banner.err');
    expect(await page.textContent('.banner.err')).toContain('not valid');
    expect(await page.content()).not.toContain('fga_not-a-real-key-at-all');
    expect(await page.inputValue('input[name="key"]')).toBe('');
    await shot(page, 'signin-refused');

    await page.fill('input[name="key"]', adminKey);
    await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
    const session = (await context.cookies()).find((c) => c.name === 'fg_console');
    expect(session).toBeDefined();
    await Promise.all([page.waitForURL(/\/console\/signin/), page.click('button:has-text("Sign out")')]);
    expect(await page.textContent('.banner')).toContain('signed out');
    // The old cookie, put back, opens nothing: the session is gone on the server.
    await context.addCookies([session as NonNullable<typeof session>]);
    await page.goto(`/console/teams/${teamA}`);
    expect(page.url()).toContain('/console/signin');
    await context.close();
  });

  it('invites a user (listed as invited), who accepts; changing their products changes the access explanation', async () => {
    const { page } = desk;
    await page.goto(`/console/teams/${teamA}`);
    await page.click('a.tab:has-text("Members")');
    const email = uniqueEmail('grace');
    await page.fill('input[name="invite"]', `Grace Hopper <${email}>`);
    await page.check('form:has(input[name="invite"]) input[name="product"][value="autocad"]');
    await Promise.all([page.waitForURL(/done=invited/), page.click('button:has-text("Send invitation")')]);
    expect(await page.textContent('.banner.ok')).toContain(email);
    const row = page.locator(`tr[data-member="${email}"]`);
    expect(await row.locator('.badge').first().textContent()).toBe('invited');
    expect(await row.locator('td.products').textContent()).toBe('AutoCAD');
    await shot(page, 'members-invited');

    // The invitee accepts from the e-mail: active, AutoCAD only.
    const [mail] = (await mailsTo(gw, email)).filter((m) => m.kind === 'invitation');
    expectStatus(await gw.anon.post('/v1/invitations/accept', { token: tokenOf(mail.text), password: 'correct-horse-battery' }), 200);
    await page.reload();
    expect(await row.locator('.badge').first().textContent()).toBe('active');

    await page.click(`tr[data-member="${email}"] a:has-text("Access")`);
    const explain = (product: string) => page.locator(`table.explain tr[data-product="${product}"]`);
    expect(await explain('autocad').locator('.badge').textContent()).toBe('granted');
    expect(await explain('revit').locator('.badge').textContent()).toBe('refused');
    expect(await explain('revit').locator('td.why').textContent()).toMatch(/\S/);

    await page.check('input[name="product"][value="revit"]');
    await page.uncheck('input[name="product"][value="autocad"]');
    await Promise.all([page.waitForURL(/done=products/), page.click('button:has-text("Save products")')]);
    expect(await explain('revit').locator('.badge').textContent()).toBe('granted');
    expect(await explain('revit').textContent()).toContain('Flex tokens');
    expect(await explain('autocad').locator('.badge').textContent()).toBe('refused');
    const api = expectStatus(await gw.op.get(`/v1/teams/${teamA}/members/${encodeURIComponent(email)}/access`), 200) as {
      product: string;
      granted: boolean;
    }[];
    expect(api.filter((a) => a.granted).map((a) => a.product)).toEqual(['revit']);
    await shot(page, 'member-explain');
  });

  it('R12: "All products" keeps the member\'s own choice: unticking it later gives back the products picked before', async () => {
    const { page } = desk;
    const who = await newAccount(gw, 'picker');
    await joinTeam(gw, teamA, who, { products: ['autocad', 'revit'] });
    const member = async () =>
      (
        expectStatus(await gw.op.get(`/v1/teams/${teamA}/members`), 200) as {
          autodeskId: string;
          allProducts: boolean;
          products: string[];
        }[]
      ).find((m) => m.autodeskId === who.autodeskId);
    await page.goto(`/console/teams/${teamA}/members/${encodeURIComponent(who.autodeskId)}`);
    const all = page.locator('input[name="allProducts"]');
    const ticked = async () => page.locator('input[name="product"]:checked').evaluateAll((bs) => bs.map((b) => b.getAttribute('value')));

    await all.check();
    expect(await page.locator('input[name="product"][value="autocad"]').isDisabled()).toBe(true); // moot while all are given
    await Promise.all([page.waitForURL(/done=products/), page.click('button:has-text("Save products")')]);
    expect(await member()).toMatchObject({ allProducts: true, products: ['autocad', 'revit'] });
    expect(await page.textContent('form:has(input[name="allProducts"]) .hint')).toContain('Currently: All products.');
    expect(await all.isChecked()).toBe(true);
    expect(await ticked()).toEqual(['autocad', 'revit']);

    // Unticking shows the earlier choice at once, and saving gives the member exactly that again.
    await all.uncheck();
    expect(await page.locator('input[name="product"][value="autocad"]').isDisabled()).toBe(false);
    expect(await ticked()).toEqual(['autocad', 'revit']);
    await Promise.all([page.waitForURL(/done=products/), page.click('button:has-text("Save products")')]);
    expect(await member()).toMatchObject({ allProducts: false, products: ['autocad', 'revit'] });
    expect(await page.textContent('form:has(input[name="allProducts"]) .hint')).toContain('Currently: AutoCAD, Revit.');
  });

  it('uploads a CSV import and sees the line that was refused', async () => {
    const { page } = desk;
    await page.goto(`/console/teams/${teamA}/members`);
    const good = uniqueEmail('imported');
    const file = `${ARTIFACTS}console-import.csv`;
    writeFileSync(
      file,
      `name,email,products,guest\nLin Imported,${good},autocad;revit,no\nBad Row,not-an-email,autocad,no\nNo Such,${uniqueEmail('x')},photoshop,no\n`,
    );
    await page.setInputFiles('input[type="file"]', file);
    await page.click('button:has-text("Import")');
    await page.waitForSelector('#import-result');
    expect(await page.textContent('#import-result')).toContain('1 member added');
    const errors = page.locator('table.errors tbody tr');
    expect(await errors.count()).toBe(2);
    expect(await errors.nth(0).locator('td').first().textContent()).toBe('3');
    expect(await errors.nth(1).locator('td').first().textContent()).toBe('4');
    expect(await errors.nth(1).textContent()).toContain('photoshop');
    expect(await page.locator(`tr[data-member="${good}"]`).count()).toBe(1);
    await shot(page, 'members-import-errors');
  });

  it('inspects entitlements: a genuine one verifies, a tampered one is flagged', async () => {
    const member = await newMember(gw, teamA, ['autocad']);
    const launch = expectStatus(await member.api.post('/v1/launch', { product: 'autocad', team: teamA }), 200);
    const [h, p, s] = launch.entitlement.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = [h, Buffer.from(JSON.stringify({ ...claims, product: 'revit' })).toString('base64url'), s].join('.');

    const { page } = desk;
    await page.goto(`/console/teams/${teamA}`);
    await page.click('a.tab:has-text("Entitlement inspector")');
    await page.fill('textarea[name="jws"]', launch.entitlement);
    await page.click('button:has-text("Inspect")');
    await page.waitForSelector('[data-testid="signature"]');
    expect(await page.textContent('[data-testid="signature"]')).toContain('Signature valid');
    expect(await page.textContent('.inspection')).toContain(member.autodeskId);

    await page.fill('textarea[name="jws"]', tampered);
    await page.click('button:has-text("Inspect")');
    await page.waitForSelector('[data-testid="signature"]');
    const verdict = page.locator('[data-testid="signature"]');
    expect(await verdict.textContent()).toContain('Signature INVALID');
    expect(await verdict.getAttribute('class')).toContain('err');
    expect(await page.textContent('pre.json >> nth=1')).toContain('"product": "revit"');
    expect(await page.textContent('.inspection')).toMatch(/Expires/);
    await shot(page, 'inspect-tampered');

    await page.fill('textarea[name="jws"]', 'not a token');
    await page.click('button:has-text("Inspect")');
    expect(await page.textContent('.banner.err')).toContain('not a compact JWS');
  });

  it("shows only the admin's own teams: a switcher for its two teams, and 403 on another team's pages", async () => {
    const { page } = desk;
    await page.goto(`/console/teams/${teamA}`);
    const optionLocators = await page.locator('#team-switch option').all();
    const options = await Promise.all(optionLocators.map((o) => o.getAttribute('value')));
    expect(options.sort()).toEqual([teamA, teamC].sort());
    await Promise.all([page.waitForURL(new RegExp(`/console/teams/${teamC}$`)), page.selectOption('#team-switch', teamC)]);
    expect(await page.textContent('[data-testid="balance"]')).toBe('50');

    for (const path of ['', '/members', '/defaults', '/usage', '/usage.csv', `/members/${encodeURIComponent(heavyUser)}`]) {
      const res = await page.goto(`/console/teams/${teamB}${path}`);
      expect(res?.status(), path).toBe(403);
      expect(await page.textContent('h1')).toBe('Not allowed');
    }
    const nope = await page.goto('/console/teams/tm_does-not-exist/members');
    expect(nope?.status()).toBe(403);
    await shot(page, 'other-team-403');
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const post = await page.request.post(`/console/teams/${teamB}/defaults`, { form: { _csrf: csrf, product: 'autocad' } });
    expect(post.status()).toBe(403);
    expect(expectStatus(await gw.op.get(`/v1/teams/${teamB}/defaults`), 200).products).toEqual([]);
    const sw = await page.goto(`/console/switch?team=${teamB}`);
    expect(sw?.status()).toBe(403);
  });

  it('shows the usage report by product over a range, with a Flex-shaped CSV download; defaults say guests never get them', async () => {
    const { page } = desk;
    await page.goto(`/console/teams/${teamA}/usage?from=2026-02-01&to=2026-03-15&by=product`);
    const rows = page.locator('table.usage tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(4);
    expect(await page.textContent('table.usage tbody')).toContain('Revit');
    const api = expectStatus(await gw.op.get(`/v1/teams/${teamA}/usage?from=2026-02-01&to=2026-03-15&by=product`), 200);
    expect(await page.textContent('table.usage tfoot')).toContain(api.total.tokens.toLocaleString('en-US'));
    const href = await page.getAttribute('a:has-text("Download CSV")', 'href');
    const csv = await page.request.get(href as string);
    expect(csv.headers()['content-type']).toContain('text/csv');
    expect(csv.headers()['content-disposition']).toContain('attachment');
    expect((await csv.text()).split('\r\n')[0]).toBe('Day used,Email,First name,Last name,Product,Team,Tokens used');
    await shot(page, 'usage-by-product');

    await page.click('a.tab:has-text("Defaults")');
    expect(await page.textContent('.rules')).toContain('Guests never get the default products');
    await page.check('input[name="product"][value="maya"]');
    await Promise.all([page.waitForURL(/done=defaults/), page.click('button:has-text("Save defaults")')]);
    expect(expectStatus(await gw.op.get(`/v1/teams/${teamA}/defaults`), 200).products).toEqual(['maya']);
    await shot(page, 'defaults');
    // Put the defaults back: other tests read the explain page.
    await page.uncheck('input[name="product"][value="maya"]');
    await Promise.all([page.waitForURL(/done=defaults/), page.click('button:has-text("Save defaults")')]);
  });

  it('names no rule by its number on any page; the access explanation says in words which rule refused', async () => {
    const { page } = desk;
    // One refusal of each kind the explanation can show: a product not assigned, a default product
    // for a guest, an invitation not accepted yet.
    const member = await newMember(gw, teamA, ['autocad']);
    const guest = await newAccount(gw, 'guest');
    await joinTeam(gw, teamA, guest, { guest: true });
    const invitee = uniqueEmail('pending');
    expectStatus(await gw.op.post(`/v1/teams/${teamA}/members`, { invite: `Pending Person <${invitee}>` }), 201);
    expectStatus(await gw.op.put(`/v1/teams/${teamA}/defaults`, { products: ['maya'] }), 200);
    const { entitlement } = expectStatus(await member.api.post('/v1/launch', { product: 'autocad', team: teamA }), 200);
    const memberPage = (id: string) => `/console/teams/${teamA}/members/${encodeURIComponent(id)}`;
    const sub = (product: string) => page.textContent(`table.explain tr[data-product="${product}"] .sub`);
    try {
      await page.goto(memberPage(member.autodeskId));
      expect(await sub('revit')).toBe('no-access · per-user access');
      await expectNoRuleNumbers(page);
      await page.goto(memberPage(guest.autodeskId));
      expect(await sub('maya')).toBe('no-access · default products (never for guests)');
      await expectNoRuleNumbers(page);
      await page.goto(memberPage(invitee));
      expect(await sub('autocad')).toBe('invitation-pending · invitation not accepted');
      expect(await page.locator('button:has-text("Resend invitation")').count()).toBe(1);
      await expectNoRuleNumbers(page);

      const done = ['invited', 'resent', 'removed', 'products', 'defaults'].map((d) => `?done=${d}&who=${encodeURIComponent(invitee)}`);
      for (const [path, status] of [
        [`/console/teams/${teamA}`, 200],
        ...done.map((q) => [`/console/teams/${teamA}/members${q}`, 200] as const),
        [memberPage(heavyUser), 200],
        [`/console/teams/${teamA}/defaults`, 200],
        [`/console/teams/${teamA}/usage?by=day`, 200],
        [`/console/teams/${teamA}/usage?from=2026-03-15&to=2026-03-01`, 400],
        ['/console/inspect', 200],
        [`/console/teams/${teamB}/members`, 403],
        ['/console/no-such-page', 404],
      ] as const) {
        const res = await page.goto(path);
        expect(res?.status(), path).toBe(status);
        await expectNoRuleNumbers(page);
      }

      // Pages that answer a form: the inspector's verdicts and an import's per-line errors.
      for (const jws of [entitlement, `${entitlement.slice(0, -4)}AAAA`, 'not a token']) {
        await page.goto('/console/inspect');
        await page.fill('textarea[name="jws"]', jws);
        await Promise.all([page.waitForLoadState(), page.click('button:has-text("Inspect")')]);
        await page.waitForSelector('.inspection, .banner.err');
        await expectNoRuleNumbers(page);
      }
      await page.goto(`/console/teams/${teamA}/members`);
      const file = `${ARTIFACTS}console-import-plain.csv`;
      writeFileSync(file, `name,email,products,guest\nBad Row,not-an-email,autocad,no\nNo Such,${uniqueEmail('x')},photoshop,no\n`);
      await page.setInputFiles('input[type="file"]', file);
      await page.click('button:has-text("Import")');
      await page.waitForSelector('#import-result');
      await expectNoRuleNumbers(page);

      // Signed out: the sign-in page, and its refusal.
      const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
      const out = await context.newPage();
      await out.goto('/console/signin');
      await expectNoRuleNumbers(out);
      await out.fill('input[name="key"]', 'fga_not-a-real-key-at-all');
      await out.click('button:has-text("Sign in")');
      await out.waitForSelector('.banner.err');
      await expectNoRuleNumbers(out);
      await context.close();
    } finally {
      expectStatus(await gw.op.put(`/v1/teams/${teamA}/defaults`, { products: [] }), 200);
    }
  });

  for (const [label, viewport, shots] of [
    ['1280x800', DESKTOP, ['members', 'usage']],
    ['390x844', PHONE, ['overview', 'members', 'member', 'usage', 'inspect']],
  ] as const) {
    it(`lays every page out without horizontal overflow at ${label}`, async () => {
      const own = viewport === DESKTOP ? null : await signedIn(viewport);
      const page = own?.page ?? desk.page;
      const pages = [
        ['overview', `/console/teams/${teamA}`],
        ['members', `/console/teams/${teamA}/members`],
        ['member', `/console/teams/${teamA}/members/${encodeURIComponent(heavyUser)}`],
        ['defaults', `/console/teams/${teamA}/defaults`],
        ['usage', `/console/teams/${teamA}/usage?by=day`],
        ['inspect', '/console/inspect'],
      ] as const;
      for (const [name, path] of pages) {
        const res = await page.goto(path);
        expect(res?.status(), path).toBe(200);
        await expectNoHorizontalOverflow(page);
        if (viewport === DESKTOP) await expectAlignedTables(page);
        if ((shots as readonly string[]).includes(name)) await shot(page, `${name}-${label}`);
      }
      // The team switcher and the chart stay visible and inside the window.
      await page.goto(`/console/teams/${teamA}`);
      expect(await page.locator('#team-switch').isVisible()).toBe(true);
      const box = await page.locator('svg.chart:visible').boundingBox();
      expect(box?.width).toBeGreaterThan(viewport.width * 0.7);
      expect(box && box.x + box.width).toBeLessThanOrEqual(viewport.width);
      await own?.context.close();
    });
  }
});
