/**
 * Every console page in a real headless Chromium, at a desktop (1280 px) and a phone (390 px)
 * width: a screenshot of each in test/artifacts/pages/ (gitignored), no horizontal overflow,
 * header cells over their columns, and axe-core (from npm) with zero violations.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, tokenOf } from '../harness/admin';
import { closeTestbed, pageTestbed } from '../harness/browser';
import { writeCharges } from '../harness/charges';
import { joinTeam, newAccount, setClock, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/pages/', import.meta.url));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;

let gw: TestGateway;
let browser: Browser;
let team: string;
let second: string;
let member: string;
let adminKey: string;
let lonelyKey: string;
/** A team of more users than a page of the per-user usage view holds, and its admin's key. */
let busy: string;
let busyKey: string;
let invitationToken: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ gw, browser } = await pageTestbed(T0));
  const newTeam = async (name: string) => expectStatus(await gw.op.post('/v1/teams', { name }), 201).id as string;
  team = await newTeam('Acme Architects');
  second = await newTeam('Zenith Studio');
  // A lot bought 400 days ago (expired 35 days ago: a token event), one expiring soon, a small fresh one:
  // the balance runs low, so the overview shows its banner with both buttons.
  for (const [tokens, daysAgo] of [
    [40, 400],
    [60, 340],
    [30, 0],
  ] as const) {
    expectStatus(
      await gw.op.post(`/v1/teams/${team}/purchases`, { tokens, purchasedAt: new Date(T0.getTime() - daysAgo * DAY).toISOString() }),
      201,
    );
  }
  expectStatus(await gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: second, tokens: 50 }), 201);
  adminKey = expectStatus(await gw.op.post('/v1/admins', { name: 'Ada Admin', email: 'ada@example.com', teams: [team, second] }), 201).key;
  lonelyKey = expectStatus(await gw.op.post('/v1/admins', { name: 'Lone Admin', email: 'lone@example.com', teams: [] }), 201).key;
  busy = await newTeam('Busy Bureau');
  busyKey = expectStatus(await gw.op.post('/v1/admins', { name: 'Bo Busy', email: 'bo@example.com', teams: [busy] }), 201).key;
  // 130 people, each on 1-3 days of March; written into the ledger, as 130 sign-ins would take long.
  const charges = [0, 1, 2].flatMap((d) =>
    Array.from({ length: 130 }, (_, u) => u)
      .filter((u) => d <= u % 3)
      .map((u) => ({
        at: new Date(Date.parse('2026-03-02T09:00:00Z') + d * 7 * DAY + u * 1000).toISOString(),
        autodeskId: `person${u}@example.com`,
        product: u % 2 ? ('autocad' as const) : ('revit' as const),
      })),
  );
  await writeCharges(gw.database.url, busy, charges);

  const heavy = await newAccount(gw, 'heavy');
  const light = await newAccount(gw, 'light');
  member = heavy.autodeskId;
  await joinTeam(gw, team, heavy, { allProducts: true });
  await joinTeam(gw, team, light, { products: ['autocad'] });
  expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { invite: 'Ivy Invitee <ivy@example.com>', products: ['revit'] }), 201);
  invitationToken = tokenOf((await mailsTo(gw, 'ivy@example.com')).at(-1).text);
  for (const [daysAgo, who, product] of [
    [20, heavy, 'revit'],
    [12, light, 'autocad'],
    [5, heavy, 'maya'],
    [2, light, 'autocad'],
  ] as const) {
    await setClock(gw, new Date(T0.getTime() - daysAgo * DAY));
    expectStatus(await (await signIn(gw, who)).api.post('/v1/launch', { product, team }), 200);
  }
  await setClock(gw, T0);
});

afterAll(() => closeTestbed({ gw, browser }));

/** A fresh profile signed in with `key`. CSP is bypassed only so that axe-core can be injected. */
async function signedIn(key: string, viewport: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ viewport, baseURL: gw.url, bypassCSP: true });
  const page = await context.newPage();
  await page.goto('/console/signin');
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(/\/console(\/teams\/|$)/), page.click('button:has-text("Sign in")')]);
  return page;
}

async function expectNoHorizontalOverflow(page: Page, name: string): Promise<void> {
  const { scroll, inner } = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })')) as {
    scroll: number;
    inner: number;
  };
  expect(scroll, `${name} is ${scroll}px wide in a ${inner}px window`).toBeLessThanOrEqual(inner);
}

/** Each header cell of a visible table over the body cells of its column (same x, same width). */
async function expectAlignedTables(page: Page, name: string): Promise<void> {
  const misaligned = (await page.evaluate(`(() => {
    const out = [];
    for (const table of document.querySelectorAll('table')) {
      const head = table.querySelector('thead tr');
      if (!head || head.getBoundingClientRect().height === 0) continue;
      const heads = [...head.children].map((c) => c.getBoundingClientRect());
      for (const row of table.querySelectorAll('tbody tr')) {
        const cells = [...row.children];
        if (cells.length !== heads.length || row.getBoundingClientRect().height === 0) continue;
        cells.forEach((cell, i) => {
          const r = cell.getBoundingClientRect();
          if (Math.abs(r.left - heads[i].left) > 1 || Math.abs(r.width - heads[i].width) > 1)
            out.push((table.className || 'table') + ' column ' + (i + 1));
        });
      }
    }
    return out;
  })()`)) as string[];
  expect(misaligned, `tables of ${name}`).toEqual([]);
}

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[] }[];
}

async function expectNoAxeViolations(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  // Closed <details> hide content from axe as from people: open them so their tables are checked too.
  await page.evaluate(`document.querySelectorAll('details').forEach((d) => { d.open = true; })`);
  const violations = (await page.evaluate('axe.run(document).then((r) => r.violations)')) as AxeViolation[];
  const readable = violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(readable, `axe-core on ${name}`).toEqual([]);
}

/** Each page by name, its path (from the team seeded above) and the status it must answer. */
const PAGES: [string, () => string, number][] = [
  ['overview', () => `/console/teams/${team}`, 200],
  ['members', () => `/console/teams/${team}/members`, 200],
  ['member', () => `/console/teams/${team}/members/${encodeURIComponent(member)}`, 200],
  ['defaults', () => `/console/teams/${team}/defaults`, 200],
  ['usage-by-user', () => `/console/teams/${team}/usage?by=user&range=3m`, 200],
  ['usage-by-product', () => `/console/teams/${team}/usage?by=product`, 200],
  ['usage-by-day', () => `/console/teams/${team}/usage?by=day&range=12m`, 200],
  ['usage-refused', () => `/console/teams/${team}/usage?from=2026-03-15&to=2026-03-01`, 400],
  ['tokens', () => `/console/teams/${team}/tokens`, 200],
  ['tokens-buy', () => `/console/teams/${team}/tokens/buy`, 200],
  ['tokens-move', () => `/console/teams/${team}/tokens/move`, 200],
  ['ledger', () => `/console/teams/${team}/ledger`, 200],
  ['ledger-filtered', () => `/console/teams/${team}/ledger?kind=charge&user=${encodeURIComponent(member)}`, 200],
  ['spend', () => `/console/teams/${team}/spend`, 200],
  ['advice', () => `/console/teams/${team}/advice`, 200],
  ['audit', () => `/console/teams/${team}/audit`, 200],
  ['audit-filtered', () => `/console/teams/${team}/audit?action=member.*`, 200],
  ['inspect', () => `/console/inspect?team=${team}`, 200],
  ['not-allowed', () => '/console/teams/tm_someone-else', 403],
  ['not-found', () => '/console/no-such-page', 404],
];

// One test per page, each with its own time budget: a whole width in one test took 15 s alone and
// over 120 s on CI, where Chromium shares two cores with the rest of the suite.
for (const [label, viewport] of [
  ['1280', { width: 1280, height: 800 }],
  ['390', { width: 390, height: 844 }],
] as const) {
  describe(`every console page at ${label} px: screenshot, no horizontal overflow, aligned tables, zero axe-core violations`, () => {
    let page: Page;
    beforeAll(async () => {
      page = await signedIn(adminKey, viewport);
    });
    afterAll(async () => {
      await page?.context().close();
    });

    /** Checks the page `go` leads to; `go` answers the navigation's response, or null when a form was sent. */
    const check = async (on: Page, name: string, status: number | null, go: () => Promise<unknown>) => {
      const res = (await go()) as { status(): number } | null;
      if (res && status !== null) expect(res.status(), name).toBe(status);
      await on.screenshot({ path: `${ARTIFACTS}${name}-${label}.png`, fullPage: true });
      await expectNoHorizontalOverflow(on, name);
      if (viewport.width >= 1000) await expectAlignedTables(on, name);
      await expectNoAxeViolations(on, name);
    };

    for (const [name, path, status] of PAGES) {
      it(name, () => check(page, name, status, () => page.goto(path())));
    }

    it('usage-by-user-next: the per-user view of a team with more users than a page, its second page through Next page', async () => {
      const other = await signedIn(busyKey, viewport);
      try {
        await other.goto(`/console/teams/${busy}/usage?by=user&from=2026-03-01&to=2026-03-15`);
        expect(await other.locator('tr[data-user]').count()).toBe(100);
        await check(other, 'usage-by-user-next', null, () =>
          Promise.all([other.waitForURL(/after=/), other.click('a[rel="next"]')]).then(() => null),
        );
        expect(await other.locator('tr[data-user]').count()).toBe(30);
        expect(await other.textContent('.user-count')).toBe('130 users used a product in this range: 101-130 here, most days used first.');
      } finally {
        await other.context().close();
      }
    });

    it('tokens-buy-refused: a purchase dated in the future is refused, nothing bought', async () => {
      await page.goto(`/console/teams/${team}/tokens/buy`);
      await page.fill('input[name="tokens"]', '5');
      await page.fill('input[name="purchasedOn"]', '2026-04-01');
      // The date field's max stops this in the browser; the gateway must refuse it all the same.
      await page.evaluate(`document.querySelector('form:has(input[name="purchasedOn"])').noValidate = true`);
      await check(page, 'tokens-buy-refused', null, () =>
        Promise.all([page.waitForLoadState(), page.click('button:has-text("Buy tokens for")')]).then(() => null),
      );
      expect(await page.textContent('.banner.err')).toContain('Nothing was bought');
    });

    it('tokens-buy-confirm: the Buy button asks before anything is bought', async () => {
      await page.goto(`/console/teams/${team}/tokens/buy`);
      await page.fill('input[name="tokens"]', '5');
      await page.fill('input[name="price"]', '1.25');
      await check(page, 'tokens-buy-confirm', null, () =>
        Promise.all([page.waitForLoadState(), page.click('button:has-text("Buy tokens for")')]).then(() => null),
      );
      expect(new URL(page.url()).pathname, 'still on the Buy page: nothing bought yet').toMatch(/\/tokens\/buy$/);
      expect(await page.textContent('#buy-question')).toBe('Buy 5 tokens for Acme Architects, expiring on 15 Mar 2027?');
    });

    it('tokens-move-confirm: the Move button asks before anything is moved', async () => {
      await page.goto(`/console/teams/${team}/tokens/move`);
      // One token: the navigation test may have moved 5 of this team's few before (tests are shuffled).
      await page.fill('input[name="tokens"]', '1');
      await check(page, 'tokens-move-confirm', null, () =>
        Promise.all([page.waitForLoadState(), page.click('button:has-text("Move tokens")')]).then(() => null),
      );
      expect(new URL(page.url()).pathname, 'still on the Move page: nothing moved yet').toMatch(/\/tokens\/move$/);
      expect(await page.textContent('#move-question')).toBe('Move 1 token from Acme Architects to Zenith Studio?');
    });

    it('member-remove-confirm: Remove asks, in the page, before anybody is removed', async () => {
      await page.goto(`/console/teams/${team}/members/${encodeURIComponent(member)}`);
      const name = await page.textContent('h1');
      await check(page, 'member-remove-confirm', null, () =>
        Promise.all([page.waitForLoadState(), page.click('button:has-text("Remove from team")')]).then(() => null),
      );
      expect(new URL(page.url()).pathname, 'the confirmation, not the list after a removal').toMatch(/\/remove$/);
      expect(await page.textContent('#remove-question')).toBe(`Remove ${name} (${member}) from Acme Architects?`);
    });

    it("inspect-refused: the inspector's verdict on what is not a token", async () => {
      await page.goto('/console/inspect');
      await page.fill('textarea[name="jws"]', 'not a token');
      await check(page, 'inspect-refused', null, () =>
        Promise.all([page.waitForLoadState(), page.click('button:has-text("Inspect")')]).then(() => null),
      );
      expect(await page.textContent('.banner.err')).toContain('not a compact JWS');
    });

    it('no-team: an admin without a team', async () => {
      const lonely = await signedIn(lonelyKey, viewport);
      await check(lonely, 'no-team', null, async () => null);
      await lonely.context().close();
    });

    it('signin and invitation: the pages seen without a console session', async () => {
      const out = await (await browser.newContext({ viewport, baseURL: gw.url, bypassCSP: true })).newPage();
      await check(out, 'signin', 200, () => out.goto('/console/signin'));
      // The page an invitation e-mail links to, as the invitee sees it.
      await check(out, 'invitation', 200, () => out.goto(`/console/invitations/accept?token=${encodeURIComponent(invitationToken)}`));
      await out.context().close();
    });
  });
}

describe('console navigation', () => {
  it('the low-balance banner links to the token pages, and the pages link to each other', async () => {
    const page = await signedIn(adminKey, { width: 1280, height: 800 });
    await page.goto(`/console/teams/${team}`);
    await Promise.all([page.waitForURL(/\/tokens\/buy$/), page.click('.banner-actions a:has-text("Buy tokens")')]);
    expect(await page.textContent('h1')).toBe('Buy tokens');
    await Promise.all([page.waitForURL(/\/tokens\/move$/), page.click('nav.subnav a:has-text("Move tokens")')]);
    expect(await page.locator('select[name="toTeam"] option').allTextContents()).toEqual(['Zenith Studio']);
    await page.fill('input[name="tokens"]', '5');
    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Move tokens")')]);
    await Promise.all([page.waitForURL(/done=moved/), page.click('button:has-text("Confirm: move 5 tokens")')]);
    expect(await page.textContent('.banner.ok')).toBe('5 tokens moved to Zenith Studio.');
    expect(await page.locator('a.tab.active').textContent()).toBe('Tokens');
    await page.context().close();
  });
});

describe('buying tokens', () => {
  it('the form asks first: Cancel buys nothing, Confirm buys once and says so', async () => {
    const own = expectStatus(await gw.op.post('/v1/teams', { name: 'Buyer Bureau' }), 201).id as string;
    const key = expectStatus(await gw.op.post('/v1/admins', { name: 'Bea Buyer', email: 'bea@example.com', teams: [own] }), 201).key;
    const balance = async () => expectStatus(await gw.op.get(`/v1/teams/${own}/balance`), 200).balance as number;
    const page = await signedIn(key, { width: 1280, height: 800 });
    const ask = async () => {
      await page.goto(`/console/teams/${own}/tokens/buy`);
      await page.fill('input[name="tokens"]', '120');
      await Promise.all([page.waitForLoadState(), page.click('button:has-text("Buy tokens for")')]);
      expect(new URL(page.url()).pathname, 'still on the Buy page: nothing bought yet').toMatch(/\/tokens\/buy$/);
      expect(await page.textContent('#buy-question')).toBe('Buy 120 tokens for Buyer Bureau, expiring on 15 Mar 2027?');
    };
    await ask();
    expect(await balance()).toBe(0);
    await Promise.all([page.waitForURL(/\/tokens$/), page.click('.buy-confirm a:has-text("Cancel")')]);
    expect(await balance()).toBe(0);

    await ask();
    await Promise.all([page.waitForURL(/done=bought/), page.click('button:has-text("Confirm: buy 120 tokens")')]);
    expect(await page.textContent('.banner.ok')).toBe('120 tokens bought; they expire on 15 Mar 2027.');
    expect(await balance()).toBe(120);
    await page.context().close();
  });
});

describe('moving tokens', () => {
  it('the form asks first, saying both balances after: Cancel moves nothing, Confirm moves once and says so', async () => {
    const newTeam = async (name: string) => expectStatus(await gw.op.post('/v1/teams', { name }), 201).id as string;
    const [from, to] = [await newTeam('Mover Mill'), await newTeam('Target Works')];
    expectStatus(await gw.op.post(`/v1/teams/${from}/purchases`, { tokens: 200 }), 201);
    const key = expectStatus(await gw.op.post('/v1/admins', { name: 'Mo Mover', email: 'mo@example.com', teams: [from, to] }), 201).key;
    const balances = async () =>
      Promise.all([from, to].map(async (t) => expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200).balance as number));
    const page = await signedIn(key, { width: 1280, height: 800 });
    const ask = async () => {
      await page.goto(`/console/teams/${from}/tokens/move`);
      await page.fill('input[name="tokens"]', '70');
      await Promise.all([page.waitForLoadState(), page.click('button:has-text("Move tokens")')]);
      expect(new URL(page.url()).pathname, 'still on the Move page: nothing moved yet').toMatch(/\/tokens\/move$/);
      expect(await page.textContent('#move-question')).toBe('Move 70 tokens from Mover Mill to Target Works?');
      expect(await page.locator('.move-facts li').allTextContents()).toEqual([
        'Mover Mill: 200 tokens now, 130 tokens after.',
        'Target Works: 0 tokens now, 70 tokens after.',
        'Moved tokens keep their expiry date; the ones that expire first move first.',
      ]);
    };
    await ask();
    expect(await balances()).toEqual([200, 0]);
    await Promise.all([page.waitForURL(/\/tokens$/), page.click('.move-confirm a:has-text("Cancel")')]);
    expect(await balances()).toEqual([200, 0]);

    await ask();
    await Promise.all([page.waitForURL(/done=moved/), page.click('button:has-text("Confirm: move 70 tokens")')]);
    expect(await page.textContent('.banner.ok')).toBe('70 tokens moved to Target Works.');
    expect(await balances()).toEqual([130, 70]);
    await page.context().close();
  });
});

describe('removing a member', () => {
  it('Remove asks on a page, never in a dialog: Cancel keeps the member, Confirm removes them once and says so', async () => {
    const own = expectStatus(await gw.op.post('/v1/teams', { name: 'Remover Rooms' }), 201).id as string;
    const key = expectStatus(await gw.op.post('/v1/admins', { name: 'Rae Remover', email: 'rae@example.com', teams: [own] }), 201).key;
    const rex = await newAccount(gw, 'rex');
    await joinTeam(gw, own, rex, { products: ['autocad'] });
    const isMember = async () =>
      (expectStatus(await gw.op.get(`/v1/teams/${own}/members`), 200) as { autodeskId: string }[]).some(
        (m) => m.autodeskId === rex.autodeskId,
      );
    const page = await signedIn(key, { width: 1280, height: 800 });
    // With JavaScript on, the page is the one question: a dialog on top of it would ask twice.
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    const row = `tr[data-member="${rex.autodeskId}"]`;

    // From the member's page, Cancel goes back to it.
    await page.goto(`/console/teams/${own}/members/${encodeURIComponent(rex.autodeskId)}`);
    await Promise.all([page.waitForURL(/\/remove$/), page.click('button:has-text("Remove from team")')]);
    expect(await page.textContent('#remove-question')).toMatch(
      new RegExp(`^Remove rex .+ \\(${rex.autodeskId.replace(/\./g, '\\.')}\\) from Remover Rooms\\?$`),
    );
    await Promise.all([page.waitForURL(/\/members\/[^/]+$/), page.click('.remove-confirm a:has-text("Cancel")')]);
    expect(await isMember()).toBe(true);

    // From the list, Confirm removes.
    await page.goto(`/console/teams/${own}/members`);
    await Promise.all([page.waitForURL(/\/remove$/), page.click(`${row} button:has-text("Remove")`)]);
    expect(await isMember()).toBe(true);
    await Promise.all([page.waitForURL(/done=removed/), page.click('button:has-text("Confirm: remove")')]);
    expect(await page.textContent('.banner.ok')).toBe(`${rex.autodeskId} was removed from the team.`);
    expect(await page.locator(row).count()).toBe(0);
    expect(await isMember()).toBe(false);
    const audit = expectStatus(await gw.op.get(`/v1/teams/${own}/audit?action=member.removed`), 200) as unknown[];
    expect(audit).toHaveLength(1);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });
});

describe('the low-balance banner (R3)', () => {
  const bannerText = async (page: Page) =>
    ((await page.locator('.banner-actions p').first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

  it('an admin of this team alone is offered to buy tokens, not to move some', async () => {
    const key = expectStatus(await gw.op.post('/v1/admins', { name: 'Solo Admin', email: 'solo@example.com', teams: [team] }), 201).key;
    const page = await signedIn(key, { width: 1280, height: 800 });
    await page.goto(`/console/teams/${team}`);
    expect(await bannerText(page)).toMatch(/launches will soon be refused\. Buy tokens\.$/);
    expect(await page.locator('.banner-actions a').allTextContents()).toEqual(['Buy tokens']);
    await page.context().close();
  });

  it('an admin of several teams moves tokens from the one that has most into this one, already chosen on the Move page', async () => {
    // A third team, first by name, with a few tokens: the Move page would choose it if not told which.
    const able = expectStatus(await gw.op.post('/v1/teams', { name: 'Able Atelier' }), 201).id as string;
    expectStatus(await gw.op.post(`/v1/teams/${able}/purchases`, { tokens: 5 }), 201);
    const key = expectStatus(
      await gw.op.post('/v1/admins', { name: 'Tri Admin', email: 'tri@example.com', teams: [able, team, second] }),
      201,
    ).key;
    const page = await signedIn(key, { width: 1280, height: 800 });
    await page.goto(`/console/teams/${team}`);
    expect(await bannerText(page)).toMatch(/Buy tokens or move some from Zenith Studio\.$/);
    expect(await page.locator('.banner-actions a').allTextContents()).toEqual(['Buy tokens', 'Move tokens from Zenith Studio']);
    await Promise.all([page.waitForURL(/\/tokens\/move\?to=/), page.click('.banner-actions a:has-text("Move tokens")')]);
    expect(await page.textContent('.lead')).toContain('Zenith Studio has');
    expect(await page.locator('select[name="toTeam"] option').allTextContents()).toEqual(['Able Atelier', 'Acme Architects']);
    expect(await page.locator('select[name="toTeam"] option:checked').textContent()).toBe('Acme Architects');
    await page.fill('input[name="tokens"]', '5');
    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Move tokens")')]);
    await Promise.all([page.waitForURL(/done=moved/), page.click('button:has-text("Confirm: move 5 tokens")')]);
    expect(await page.textContent('.banner.ok')).toBe('5 tokens moved to Acme Architects.');
    await page.context().close();
  });
});

describe('console keyboard use', () => {
  it('the first Tab stops on "Skip to content", shown on focus; Enter takes the next Tab into the page, past the switcher, Sign out and tabs', async () => {
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      const page = await signedIn(adminKey, viewport);
      await page.goto(`/console/teams/${team}/members`);
      const skip = page.locator('a.skip-link');
      const before = await skip.boundingBox();
      expect((before?.y ?? 0) + (before?.height ?? 0), 'out of sight until focused').toBeLessThanOrEqual(0);

      await page.keyboard.press('Tab');
      const focused = async () =>
        (await page.evaluate(
          `(() => { const e = document.activeElement; return { text: e.textContent.trim(), id: e.id, inMain: !!e.closest('main'), main: e.tagName === 'MAIN' }; })()`,
        )) as { text: string; id: string; inMain: boolean; main: boolean };
      expect(await focused()).toMatchObject({ text: 'Skip to content' });
      const box = await skip.boundingBox();
      expect(box, 'shown on focus').not.toBeNull();
      expect(box?.y).toBeGreaterThanOrEqual(0);
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(viewport.width);
      await page.screenshot({ path: `${ARTIFACTS}skip-link-${viewport.width}.png` });

      await page.keyboard.press('Enter');
      expect(await focused()).toMatchObject({ main: true, id: 'main' });
      await page.keyboard.press('Tab');
      const next = await focused();
      expect(next.inMain, `the Tab after the skip link lands in the page, not on "${next.text}"`).toBe(true);
      expect(next.main).toBe(false);
      await page.context().close();
    }
  });
});
