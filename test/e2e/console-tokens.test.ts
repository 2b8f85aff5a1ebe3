/**
 * The console's token pages and usage views over real HTTP, on both engines: buying (R1), moving
 * between the admin's own teams (R3), the ledger (R5) and token events, and Flex's usage views (R15).
 * Each page answers from the same services as the API, so the API is the witness of what changed.
 */
import { describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { between, type ConsoleBrowser, consoleSignIn, formKey, leadOf, textOf, unescapeHtml } from '../harness/console';
import { balanceOf, joinTeam, ledgerOf, newAccount, newTeam, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

/** Two teams of one admin (A with `tokens`), a third team it does not manage, and its console. */
async function setup(
  tokens = 1000,
): Promise<{ a: string; c: string; other: string; adminId: string; key: string; browser: ConsoleBrowser }> {
  const a = await team(tokens);
  const c = await team();
  const other = await team(50);
  // The other team has an admin of its own, so that its admin links exist to be wrongly borrowed.
  await newAdmin(gw, [other]);
  const admin = await newAdmin(gw, [a, c]);
  const key = admin.api.token as string;
  return { a, c, other, adminId: admin.id, key, browser: await consoleSignIn(gw, key) };
}

/** The question a purchase (or, with `name`, a move) is asked with before anything is done. */
const question = (html: string, name = 'buy') => textOf(between(html, `<h2 id="${name}-question">`, '</h2>'));
/** The fields a confirmation's Confirm button sends: what was typed and the form's key. */
const confirmFields = (html: string, name = 'buy'): Record<string, string> => {
  const form = between(html, `<section class="panel ${name}-confirm"`, '</form>');
  const hidden = [...form.matchAll(/name="([^"]+)" value="([^"]*)"/g)].filter((m) => m[1] !== '_csrf');
  return { ...Object.fromEntries(hidden.map((m) => [m[1] ?? '', unescapeHtml(m[2] ?? '')])), step: 'confirm' };
};
/** A team's name as the page's switcher or target list writes it. */
const teamName = (html: string, id: string) =>
  unescapeHtml(new RegExp(`<option value="${id}"[^>]*>([^<]+)</option>`).exec(html)?.[1] ?? '?');

const rows = (html: string, attr: string) =>
  [...html.matchAll(new RegExp(`<tr [^>]*${attr}="([^"]+)"`, 'g'))].map((m) => unescapeHtml(m[1] ?? ''));

describe('console: buying tokens (R1)', () => {
  it('R1: the form asks first, saying what will be bought and when it expires; only Confirm buys, once however often it is sent', async () => {
    const { a, adminId, browser } = await setup(100);
    const form = await browser.get(`/console/teams/${a}/tokens/buy`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('15 Mar 2027'); // bought today, valid until the same day next year
    const idem = formKey(form.html);
    const name = unescapeHtml(new RegExp(`<option value="${a}" selected="">([^<]+)</option>`).exec(form.html)?.[1] ?? '?');

    // The form's button asks; nothing is bought yet.
    const asked = await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '250', purchasedOn: '', price: '1.25', idem });
    expect(asked.status).toBe(200);
    expect(question(asked.html)).toBe(`Buy 250 tokens for ${name}, expiring on 15 Mar 2027?`);
    expect(textOf(between(asked.html, '<ul class="buy-facts">', '</ul>'))).toBe(
      'Purchase date: today, now. Price: $1.25 a token, $312.50 in all.',
    );
    expect(await balanceOf(gw, a)).toBe(100);
    // Cancel leads away; Change brings the form back as typed, nothing bought either.
    expect(asked.html).toContain(`<a class="btn" href="/console/teams/${a}/tokens">Cancel</a>`);
    const change = await browser.post(`/console/teams/${a}/tokens/buy`, { ...confirmFields(asked.html), step: 'edit' });
    expect(change.status).toBe(200);
    expect(change.html).toContain('name="tokens" min="1" max="1000000000" step="1" inputmode="numeric" value="250"');
    expect(await balanceOf(gw, a)).toBe(100);

    // Confirm carries the form's key: sent twice (a double click), it buys once.
    expect(formKey(asked.html)).toBe(idem);
    const bought = await browser.post(`/console/teams/${a}/tokens/buy`, confirmFields(asked.html));
    expect(bought.status).toBe(303);
    expect(await balanceOf(gw, a)).toBe(350);
    const again = await browser.post(`/console/teams/${a}/tokens/buy`, confirmFields(asked.html));
    expect(again.status).toBe(303);
    expect(await balanceOf(gw, a)).toBe(350);
    // Back, another amount, the same form: nothing more, said in the console's words, and a new form.
    const changed = await browser.post(`/console/teams/${a}/tokens/buy`, {
      ...confirmFields(asked.html),
      tokens: '251',
    });
    expect(changed.status).toBe(409);
    expect(unescapeHtml(changed.html)).toContain('Nothing more was bought: this form had already been sent, with other values');
    expect(changed.html).not.toContain('Idempotency-Key');
    expect(formKey(changed.html)).not.toBe(idem);
    expect(await balanceOf(gw, a)).toBe(350);

    const purchases = (await ledgerOf(gw, a)).filter((e) => e.kind === 'purchase');
    expect(purchases.at(-1)).toMatchObject({ tokens: 250, actor: `admin:${adminId}` });
    const events = await browser.get(bought.location as string);
    expect(events.html).toContain('250 tokens bought; they expire on 15 Mar 2027.');
    expect(rows(events.html, 'data-kind').filter((k) => k === 'purchase')).toHaveLength(2);
  });

  it('R1: a purchase asked for today just before midnight (UTC) and confirmed after it is the one shown: that day, its expiry', async () => {
    await setClock(gw, new Date('2026-03-15T23:59:00Z'));
    const { a, browser } = await setup(0);
    const asked = await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '10', purchasedOn: '', price: '' });
    expect(question(asked.html)).toMatch(/, expiring on 15 Mar 2027\?$/);
    await setClock(gw, new Date('2026-03-16T00:01:00Z'));
    expect((await browser.post(`/console/teams/${a}/tokens/buy`, confirmFields(asked.html))).status).toBe(303);
    const lots: { expiresAt: string }[] = expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).lots;
    expect(lots.map((l) => l.expiresAt.slice(0, 10))).toEqual(['2027-03-15']);
  });

  it('R1: a past purchase date is asked about with its own expiry, and one already past it is said to be expired', async () => {
    const { a, browser } = await setup(0);
    const asked = await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '1', purchasedOn: '2025-01-10', price: '' });
    expect(asked.status).toBe(200);
    expect(question(asked.html)).toMatch(/^Buy 1 token for .+, expired on 10 Jan 2026\?$/);
    expect(textOf(between(asked.html, '<ul class="buy-facts">', '</ul>'))).toBe(
      'Purchase date: 10 Jan 2025 (recorded at the start of that day, UTC). No price recorded: Spend and Advice will not value these tokens.',
    );
    expect(textOf(between(asked.html, '<p class="banner warn">', '</p>'))).toBe(
      'Bought on that day, these tokens expired on 10 Jan 2026: they are recorded, and cannot be used.',
    );
    expect(question((await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '5', purchasedOn: '2025-06-01' })).html)).toMatch(
      /, expiring on 1 Jun 2026\?$/,
    );
    expect(expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).lots).toEqual([]);
  });

  it('R1: a price per token typed in the form is recorded with the lot; one that is not an amount buys nothing', async () => {
    const { a, browser } = await setup(0);
    const form = await browser.get(`/console/teams/${a}/tokens/buy`);
    expect(form.html).toContain('Price per token, USD');
    for (const price of ['1,25', '-1', '1.255', 'free']) {
      const refused = await browser.post(`/console/teams/${a}/tokens/buy`, {
        tokens: '40',
        purchasedOn: '',
        price,
        idem: formKey(form.html),
      });
      expect(refused.status, price).toBe(400);
      expect(unescapeHtml(refused.html)).toContain('the price per token must be an amount such as 1.25 (USD), or empty');
    }
    expect(await balanceOf(gw, a)).toBe(0);
    const bought = await browser.post(`/console/teams/${a}/tokens/buy`, {
      tokens: '40',
      purchasedOn: '',
      price: '1.25',
      idem: formKey(form.html),
      step: 'confirm',
    });
    expect(bought.status).toBe(303);
    const plain = await browser.get(`/console/teams/${a}/tokens/buy`);
    expect(
      (
        await browser.post(`/console/teams/${a}/tokens/buy`, {
          tokens: '10',
          purchasedOn: '',
          price: '',
          idem: formKey(plain.html),
          step: 'confirm',
        })
      ).status,
    ).toBe(303);
    const lots = expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).lots as { tokens: number; pricePerToken: number | null }[];
    expect(lots.map((l) => [l.tokens, l.pricePerToken]).sort()).toEqual([
      [10, null],
      [40, 125],
    ]);
  });

  it('R1: a past purchase date records a lot expiring a year after it; an impossible or future date buys nothing', async () => {
    const { a, browser } = await setup(0);
    const path = `/console/teams/${a}/tokens/buy`;
    expect((await browser.post(path, { tokens: '40', purchasedOn: '2025-06-01', step: 'confirm' })).status).toBe(303);
    const lots = expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).lots;
    expect(lots).toMatchObject([{ tokens: 40, purchasedAt: '2025-06-01T00:00:00.000Z', expiresAt: '2026-06-01T00:00:00.000Z' }]);
    // Listed among the token events when it was recorded, its own date said: the lot's expiry then
    // reads after the purchase it follows (an admin's review found it listed as bought today, below it).
    const events = [...(await browser.get(`/console/teams/${a}/tokens`)).html.matchAll(/<tr data-kind="purchase"[^>]*>([\s\S]*?)<\/tr>/g)];
    expect(textOf(events[0]?.[1] ?? '')).toContain('purchase of 40 tokens dated 1 Jun 2025, 00:00 UTC, valid until 1 Jun 2026, 00:00 UTC');

    for (const [fields, message] of [
      [{ tokens: '40', purchasedOn: '2026-02-30' }, 'a day that exists'],
      [{ tokens: '40', purchasedOn: '2026-04-01' }, 'future'],
      [{ tokens: '0', purchasedOn: '' }, 'whole number'],
      [{ tokens: '2.5', purchasedOn: '' }, 'whole number'],
    ] as const) {
      const refused = await browser.post(path, fields);
      expect(refused.status, JSON.stringify(fields)).toBe(400);
      expect(refused.html).toContain('Nothing was bought');
      expect(refused.html).toContain(message);
      expect(refused.html).toContain(`value="${fields.tokens}"`); // what was typed stays in the form
    }
    expect(await balanceOf(gw, a)).toBe(40);

    // The bounds are the API's: 1 and 1,000,000,000 tokens are a purchase, one more is not.
    expect((await browser.post(path, { tokens: '1', purchasedOn: '', step: 'confirm' })).status).toBe(303);
    expect((await browser.post(path, { tokens: '1000000000', purchasedOn: '', step: 'confirm' })).status).toBe(303);
    const over = await browser.post(path, { tokens: '1000000001', purchasedOn: '' });
    expect(over.status).toBe(400);
    expect(over.html).toContain('from 1 to 1,000,000,000');
    expect(await balanceOf(gw, a)).toBe(1_000_000_041);
  });

  it('refuses a form without its CSRF token, and another team than the admin’s own', async () => {
    const { a, other, browser } = await setup(10);
    expect((await browser.post(`/console/teams/${a}/tokens/buy`, { _csrf: 'forged', tokens: '5' })).status).toBe(403);
    expect((await browser.post(`/console/teams/${other}/tokens/buy`, { tokens: '5' })).status).toBe(403);
    expect((await browser.get(`/console/teams/${other}/ledger`)).status).toBe(403);
    expect(await balanceOf(gw, a)).toBe(10);
    expect(await balanceOf(gw, other)).toBe(50);
  });
});

describe('console: moving tokens (R3)', () => {
  it("R3: moves tokens to the admin's other team, keeping their expiry; the page names the target", async () => {
    const { a, c, browser } = await setup(300);
    const form = await browser.get(`/console/teams/${a}/tokens/move`);
    const targets = /<select name="toTeam"[^>]*>([\s\S]*?)<\/select>/.exec(form.html)?.[1] ?? '';
    expect(targets).toContain(`<option value="${c}"`);
    expect(targets).not.toContain(`<option value="${a}"`); // not to itself
    const moved = await browser.post(`/console/teams/${a}/tokens/move`, {
      toTeam: c,
      tokens: '120',
      idem: formKey(form.html),
      step: 'confirm',
    });
    expect(moved.status).toBe(303);
    expect([await balanceOf(gw, a), await balanceOf(gw, c)]).toEqual([180, 120]);
    const [fromLot] = expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).lots;
    const [toLot] = expectStatus(await gw.op.get(`/v1/teams/${c}/balance`), 200).lots;
    expect(toLot.expiresAt).toBe(fromLot.expiresAt);
    const page = await browser.get(moved.location as string);
    expect(page.html).toMatch(/120 tokens moved to Team/);
    expect(rows(page.html, 'data-kind')).toContain('transfer-out');
  });

  it('R3: the form asks first, saying how many tokens go from which team to which and the balances after; only Confirm moves, once', async () => {
    const { a, c, browser } = await setup(300);
    const path = `/console/teams/${a}/tokens/move`;
    const form = await browser.get(path);
    const [aName, cName] = [teamName(form.html, a), teamName(form.html, c)];
    const idem = formKey(form.html);

    // The form's button asks; nothing moves yet.
    const asked = await browser.post(path, { toTeam: c, tokens: '120', idem });
    expect(asked.status).toBe(200);
    expect(question(asked.html, 'move')).toBe(`Move 120 tokens from ${aName} to ${cName}?`);
    expect(textOf(between(asked.html, '<ul class="move-facts">', '</ul>'))).toBe(
      `${aName}: 300 tokens now, 180 tokens after. ${cName}: 0 tokens now, 120 tokens after. ` +
        'Moved tokens keep their expiry date; the ones that expire first move first.',
    );
    expect([await balanceOf(gw, a), await balanceOf(gw, c)]).toEqual([300, 0]);
    // Cancel leads away; Change brings the form back as typed, nothing moved either.
    expect(asked.html).toContain(`<a class="btn" href="/console/teams/${a}/tokens">Cancel</a>`);
    const change = await browser.post(path, { ...confirmFields(asked.html, 'move'), step: 'edit' });
    expect(change.status).toBe(200);
    expect(change.html).toContain('name="tokens" min="1" max="300" step="1" value="120"');
    expect(change.html).toContain(`<option value="${c}" selected="">`);
    expect([await balanceOf(gw, a), await balanceOf(gw, c)]).toEqual([300, 0]);

    // Confirm carries the form's key: sent twice (a double click), it moves once.
    expect(confirmFields(asked.html, 'move')).toEqual({ idem, toTeam: c, tokens: '120', step: 'confirm' });
    for (let i = 0; i < 2; i++) {
      const moved = await browser.post(path, confirmFields(asked.html, 'move'));
      expect(moved.status).toBe(303);
      expect(moved.location).toBe(`${path.replace('/move', '')}?done=moved&tokens=120&to=${c}`);
    }
    expect([await balanceOf(gw, a), await balanceOf(gw, c)]).toEqual([180, 120]);
  });

  it('R3: refuses a team the admin does not manage (403) and more tokens than the team has (409); nothing moves', async () => {
    const { a, c, other, browser } = await setup(100);
    const path = `/console/teams/${a}/tokens/move`;
    const foreign = await browser.post(path, { toTeam: other, tokens: '10' });
    expect(foreign.status).toBe(403);
    expect(foreign.html).toContain('Nothing was moved');
    const tooMany = await browser.post(path, { toTeam: c, tokens: '101' });
    expect(tooMany.status).toBe(409);
    expect(tooMany.html).toContain('100 valid tokens');
    expect(tooMany.html).toContain(`<option value="${c}" selected="">`); // the form keeps the choice
    expect([await balanceOf(gw, a), await balanceOf(gw, c), await balanceOf(gw, other)]).toEqual([100, 0, 50]);

    // Not to the team itself; the bounds are the API's (a billion is a move A cannot afford, one
    // more is not a move at all); a single token moves.
    expect((await browser.post(path, { toTeam: a, tokens: '10' })).status).toBe(403);
    expect((await browser.post(path, { toTeam: c, tokens: '1000000000' })).status).toBe(409);
    for (const tokens of ['0', '1000000001']) {
      const refused = await browser.post(path, { toTeam: c, tokens });
      expect(refused.status, tokens).toBe(400);
      expect(refused.html, tokens).toContain('from 1 to 1,000,000,000');
    }
    expect((await browser.post(path, { toTeam: c, tokens: '1', step: 'confirm' })).status).toBe(303);
    expect([await balanceOf(gw, a), await balanceOf(gw, c)]).toEqual([99, 1]);
  });
});

describe('console: ledger and token events (R5, R15)', () => {
  it('R5: the ledger page lists entries newest first, 50 a page, filtered by kind and by user, as the API filters them', async () => {
    const { a, browser } = await setup(1000);
    const heavy = await newAccount(gw, 'heavy');
    const light = await newAccount(gw, 'light');
    for (const who of [heavy, light]) {
      await joinTeam(gw, a, who, { allProducts: true });
    }
    // 60 days of use by `heavy`, 3 by `light`: more than a page of charges (a day and a minute
    // apart, so that each launch opens a session of its own).
    for (let d = 60; d >= 1; d--) {
      await setClock(gw, new Date(T0.getTime() - d * (DAY + 60_000)));
      const users = d <= 3 ? [heavy, light] : [heavy];
      for (const u of users) expectStatus(await (await signIn(gw, u)).api.post('/v1/launch', { product: 'autocad', team: a }), 200);
    }
    await setClock(gw, T0);

    const first = await browser.get(`/console/teams/${a}/ledger`);
    const ids = rows(first.html, 'data-entry').map(Number);
    expect(ids).toHaveLength(50);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    const older = unescapeHtml(/<a href="([^"]+)" rel="next">Older entries/.exec(first.html)?.[1] ?? '');
    const second = rows((await browser.get(older)).html, 'data-entry').map(Number);
    expect(second.length).toBe(64 - 50); // 63 charges and the purchase
    expect(Math.max(...second)).toBeLessThan(Math.min(...ids));
    // Exactly a page left behind the 14th newest entry: nothing older to link to.
    const exactly = await browser.get(`/console/teams/${a}/ledger?before=${ids[13]}`);
    expect(rows(exactly.html, 'data-entry')).toHaveLength(50);
    expect(exactly.html).not.toContain('Older entries');

    const lightOnly = await browser.get(`/console/teams/${a}/ledger?kind=charge&user=${encodeURIComponent(light.autodeskId)}`);
    expect(rows(lightOnly.html, 'data-kind')).toEqual(['charge', 'charge', 'charge']);
    expect(lightOnly.html).not.toContain(heavy.autodeskId);
    const api = expectStatus(await gw.op.get(`/v1/teams/${a}/ledger?kind=charge&user=${encodeURIComponent(light.autodeskId)}`), 200);
    expect(rows(lightOnly.html, 'data-entry').map(Number)).toEqual(api.map((e: { id: number }) => e.id).reverse());
    expect(rows((await browser.get(`/console/teams/${a}/ledger?kind=purchase`)).html, 'data-kind')).toEqual(['purchase']);
    const bad = await browser.get(`/console/teams/${a}/ledger?user=not-an-email`);
    expect(bad.status).toBe(400);

    // The form shows the filters it answers, with a way to clear them; an unfiltered first page shows neither.
    expect(lightOnly.html).toMatch(/<option value="charge" selected="">/);
    expect(lightOnly.html).toContain(`value="${light.autodeskId}"`);
    expect(lightOnly.html).toMatch(/<a class="btn" href="[^"]+\/ledger">Clear<\/a>/);
    expect(first.html).toMatch(/<option value="" selected="">/);
    expect(first.html).not.toMatch(/>Clear<\/a>/);
    expect(first.html).not.toContain('Newest entries');
    expect((await browser.get(older)).html).toContain('Newest entries');
    const nobody = await browser.get(`/console/teams/${a}/ledger?kind=refund`);
    expect(nobody.html).toContain('No ledger entry matches these filters.');
    expect(nobody.html).toMatch(/>Clear<\/a>/); // one filter is enough to clear
  });

  it('R15: token events show purchases, moves and expiries of the last 90 days, newest first, and no charge', async () => {
    const { a, c, key, browser } = await setup(0);
    const old = new Date(T0.getTime() - 400 * DAY).toISOString(); // expired 35 days ago
    const ancient = new Date(T0.getTime() - 500 * DAY).toISOString(); // expired 135 days ago
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 70, purchasedAt: old }), 201);
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 90, purchasedAt: ancient }), 201);
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 500 }), 201);
    expectStatus(await gw.op.post(`/v1/teams/${a}/transfers`, { toTeam: c, tokens: 25 }), 201);
    const member = await newAccount(gw, 'user');
    await joinTeam(gw, a, member, { allProducts: true });
    expectStatus(await (await signIn(gw, member)).api.post('/v1/launch', { product: 'revit', team: a }), 200);

    const page = await browser.get(`/console/teams/${a}/tokens`);
    const kinds = rows(page.html, 'data-kind');
    // Purchases and the move are dated now; an expiry on the day its lot expired: 35 days ago is in
    // the last 90 days, 135 days ago is not.
    expect([...kinds].sort()).toEqual(['expiry', 'purchase', 'purchase', 'purchase', 'transfer-out']);
    expect(kinds.at(-1)).toBe('expiry'); // newest first
    expect(kinds).not.toContain('charge');
    const summary = expectStatus(await gw.op.get(`/v1/teams/${a}/usage/summary`), 200);
    expect(page.html).toContain(`data-testid="available">${summary.available.toLocaleString('en-US')}<`);

    // 100 days on, those events are older than 90 days; a new purchase is the only event.
    await setClock(gw, new Date(T0.getTime() + 100 * DAY));
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 5 }), 201);
    const later = await consoleSignIn(gw, key); // the console session of 100 days ago has ended
    expect(rows((await later.get(`/console/teams/${a}/tokens`)).html, 'data-kind')).toEqual(['purchase']);
  });

  it('instants in the details of token events, the ledger and the audit trail read as the console writes them, not in ISO form', async () => {
    const { a, c, browser } = await setup(0);
    const form = await browser.get(`/console/teams/${a}/tokens/buy`);
    expect(
      (await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '250', purchasedOn: '', idem: formKey(form.html), step: 'confirm' }))
        .status,
    ).toBe(303);
    const move = await browser.get(`/console/teams/${a}/tokens/move`);
    expect(
      (await browser.post(`/console/teams/${a}/tokens/move`, { toTeam: c, tokens: '20', idem: formKey(move.html), step: 'confirm' }))
        .status,
    ).toBe(303);
    const iso = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
    /** The rows of a table on a page, each in words. */
    const lines = async (path: string, attr: string) =>
      [...(await browser.get(path)).html.matchAll(new RegExp(`<tr [^>]*${attr}="[^"]+"[^>]*>([\\s\\S]*?)</tr>`, 'g'))].map((m) =>
        textOf(m[1] ?? ''),
      );

    const events = await lines(`/console/teams/${a}/tokens`, 'data-kind');
    expect(events.find((l) => l.includes('Purchase'))).toContain('purchase of 250 tokens, valid until 15 Mar 2027, 10:00 UTC');
    const movedIn = await lines(`/console/teams/${c}/tokens`, 'data-kind');
    expect(movedIn.find((l) => l.includes('Moved in'))).toMatch(/still expiring 15 Mar 2027, 10:00 UTC$/);
    const ledger = await lines(`/console/teams/${a}/ledger`, 'data-entry');
    expect(ledger.find((l) => l.includes('Purchase'))).toContain('purchase of 250 tokens, valid until 15 Mar 2027, 10:00 UTC');
    const audit = await lines(`/console/teams/${a}/audit?action=tokens.purchased`, 'data-action');
    expect(audit[0]).toContain('After: tokens: 250; purchasedAt: 15 Mar 2026, 10:00 UTC; expiresAt: 15 Mar 2027, 10:00 UTC');
    for (const l of [...events, ...movedIn, ...ledger, ...audit]) expect(l).not.toMatch(iso);
  });

  it('R5: the ledger names who made each entry, the user and the product, as the other pages do, the ids kept beside them', async () => {
    const { a, browser } = await setup(0);
    const form = await browser.get(`/console/teams/${a}/tokens/buy`);
    const adminName = unescapeHtml(/<span class="who-name"[^>]*>([^<]+)<\/span>/.exec(form.html)?.[1] ?? '');
    expect(adminName).toMatch(/^Admin /);
    expect(
      (await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '100', purchasedOn: '', idem: formKey(form.html), step: 'confirm' }))
        .status,
    ).toBe(303);
    expectStatus(
      await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 30, purchasedAt: new Date(T0.getTime() - 400 * DAY).toISOString() }),
      201,
    );
    const ann = await newAccount(gw, 'ann');
    await joinTeam(gw, a, ann, { allProducts: true });
    expectStatus(await (await signIn(gw, ann)).api.post('/v1/launch', { product: 'autocad', team: a }), 200);
    const annName = (expectStatus(await gw.op.get(`/v1/teams/${a}/members`), 200) as { autodeskId: string; name: string }[]).find(
      (m) => m.autodeskId === ann.autodeskId,
    )?.name;

    const html = (await browser.get(`/console/teams/${a}/ledger`)).html;
    /** The User, Product and By cells of each entry of a kind, newest first, in words, with the By cell's title. */
    const cells = (kind: string) =>
      [...html.matchAll(new RegExp(`<tr [^>]*data-kind="${kind}"[^>]*>([\\s\\S]*?)</tr>`, 'g'))].map(([, row = '']) => {
        const td = (label: string) => new RegExp(`<td data-label="${label}"([^>]*)>([\\s\\S]*?)</td>`).exec(row);
        const byCell = td('By');
        return {
          user: textOf(td('User')?.[2] ?? ''),
          product: textOf(td('Product')?.[2] ?? ''),
          by: textOf(byCell?.[2] ?? ''),
          byTitle: unescapeHtml(/title="([^"]*)"/.exec(byCell?.[1] ?? '')?.[1] ?? ''),
        };
      });
    expect(cells('charge')).toEqual([
      { user: `${annName} ${ann.autodeskId}`, product: 'AutoCAD autocad', by: annName, byTitle: `user:${ann.autodeskId}` },
    ]);
    expect(cells('purchase')).toEqual([
      { user: '', product: '', by: 'Platform operator', byTitle: 'operator' },
      { user: '', product: '', by: adminName, byTitle: expect.stringMatching(/^admin:adm_/) },
    ]);
    expect(cells('expiry')).toMatchObject([{ by: 'flexgate (automatic)', byTitle: 'system' }]);
    expect(html).not.toMatch(/>\s*(?:admin|console|user):/); // no raw actor shown as text
  });

  it('R5: a member removed since keeps their name in the ledger, marked, with no link to a member page that is gone', async () => {
    const { a, browser } = await setup(100);
    const [kept, gone] = [await newAccount(gw, 'kept'), await newAccount(gw, 'gone')];
    for (const who of [kept, gone]) {
      await joinTeam(gw, a, who, { allProducts: true });
      expectStatus(await (await signIn(gw, who)).api.post('/v1/launch', { product: 'autocad', team: a }), 200);
    }
    const goneName = (expectStatus(await gw.op.get(`/v1/teams/${a}/members`), 200) as { autodeskId: string; name: string }[]).find(
      (m) => m.autodeskId === gone.autodeskId,
    )?.name;
    expect((await gw.op.delete(`/v1/teams/${a}/members/${encodeURIComponent(gone.autodeskId)}`)).status).toBe(204);

    const html = (await browser.get(`/console/teams/${a}/ledger`)).html;
    const userCell = (id: string) =>
      [...html.matchAll(/<td data-label="User">([\s\S]*?)<\/td>/g)].map((m) => m[1] ?? '').find((cell) => cell.includes(id)) ?? '';
    expect(textOf(userCell(gone.autodeskId))).toBe(`${goneName} ${gone.autodeskId} no longer a member`);
    expect(userCell(gone.autodeskId)).not.toContain('<a ');
    expect(userCell(kept.autodeskId)).toContain(`<a href="/console/teams/${a}/members/${encodeURIComponent(kept.autodeskId)}">`);
    // Every member link the page shows opens a member page.
    const links = [...html.matchAll(/href="(\/console\/teams\/[^"/]+\/members\/[^"]+)"/g)].map((m) => unescapeHtml(m[1] ?? ''));
    expect(links).toHaveLength(1);
    for (const link of links) expect((await browser.get(link)).status, link).toBe(200);
  });

  it('R3: the low-balance banner offers to buy tokens, and to move some here only from another team of the admin that has tokens', async () => {
    const { a, c, browser } = await setup(35);
    const member = await newAccount(gw, 'user');
    await joinTeam(gw, a, member, { allProducts: true });
    const user = await signIn(gw, member);
    for (const product of ['revit', 'maya', 'civil-3d']) expectStatus(await user.api.post('/v1/launch', { product, team: a }), 200);
    expect(expectStatus(await gw.op.get(`/v1/teams/${a}/balance`), 200).alerts.lowBalance).toBe(true);
    const bannerOf = async (b: ConsoleBrowser) => {
      const html = (await b.get(`/console/teams/${a}`)).html;
      return unescapeHtml(/<div class="banner warn banner-actions">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '');
    };

    // An admin of this team alone: no other team to move tokens from (R3), so buying is all that is offered.
    const lone = await bannerOf(await consoleSignIn(gw, (await newAdmin(gw, [a])).api.token as string));
    expect(lone).toContain(`href="/console/teams/${a}/tokens/buy"`);
    expect(textOf(lone)).toMatch(/launches will soon be refused\. Buy tokens\.\s*Buy tokens$/);
    expect(lone).not.toMatch(/move/i);

    // An admin of two teams, the other one empty: nothing to move either.
    expect(await bannerOf(browser)).not.toMatch(/move/i);

    // Once the other team has tokens, the banner offers moving some from it to this team.
    expectStatus(await gw.op.post(`/v1/teams/${c}/purchases`, { tokens: 500 }), 201);
    const banner = await bannerOf(browser);
    expect(banner).toContain(`href="/console/teams/${a}/tokens/buy"`);
    const cName = textOf((await browser.get(`/console/teams/${c}`)).html.match(/<h1>([^<]*)<\/h1>/)?.[1] ?? '');
    expect(textOf(banner)).toContain(`Buy tokens or move some from ${cName}.`);
    expect(banner).toContain(`href="/console/teams/${c}/tokens/move?to=${a}"`);
    expect(banner).toMatch(new RegExp(`Buy tokens[\\s\\S]*Move tokens from ${cName}`));
    // That Move page moves from the other team, this team already chosen as where the tokens go.
    const move = (await browser.get(`/console/teams/${c}/tokens/move?to=${a}`)).html;
    expect(move).toMatch(new RegExp(`<option value="${a}" selected="">`));
  });
});

describe('console: the overview (R1, R2, R15)', () => {
  /** The lots table, row by row: expiry, tokens left and the state in words. */
  const lotRows = (html: string) =>
    [
      ...html.matchAll(
        /<tr[^>]*data-lot="[^"]+"><td class="mono">[^<]*<\/td><td>[^<]*<\/td><td>([^<]*)<\/td><td class="num">[^<]*<\/td><td class="num">([^<]*)<\/td><td>(.*?)<\/td><\/tr>/g,
      ),
    ].map((m) => [m[1], Number(m[2]), (m[3] ?? '').replace(/<[^>]+>/g, '')]);

  it('R1: lots expiring within 30 days stand out, to the day; tokens already drawn are not among those said to expire, a lot used up says so', async () => {
    // Now is 15 Mar 2026, 10:00. Lots bought a year before their expiry: in 2 hours, 1 day, 2, 30
    // and 31 days. The first (7 tokens) is drawn empty by one AutoCAD day (R2), the next gives 7.
    const a = await team(7, '2025-03-15T12:00:00Z');
    for (const [tokens, purchasedAt] of [
      [10, '2025-03-16T10:00:00Z'],
      [20, '2025-03-17T10:00:00Z'],
      [40, '2025-04-14T10:00:00Z'],
      [80, '2025-04-15T10:00:00Z'],
    ] as const) {
      expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens, purchasedAt }), 201);
    }
    const ann = await newAccount(gw, 'ann');
    const bob = await newAccount(gw, 'bob');
    for (const who of [ann, bob]) {
      await joinTeam(gw, a, who, { products: ['autocad'] });
      expectStatus(await (await signIn(gw, who)).api.post('/v1/launch', { product: 'autocad', team: a }), 200);
    }
    // A team whose only lot near its end is already spent, and a team with nothing at all.
    const spent = await team(7, '2025-03-15T12:00:00Z');
    expectStatus(await gw.op.post(`/v1/teams/${spent}/purchases`, { tokens: 50, purchasedAt: '2026-03-01T00:00:00Z' }), 201);
    const cy = await newAccount(gw, 'cy');
    await joinTeam(gw, spent, cy, { products: ['autocad'] });
    expectStatus(await (await signIn(gw, cy)).api.post('/v1/launch', { product: 'autocad', team: spent }), 200);
    const empty = await team();
    const admin = await newAdmin(gw, [a, spent, empty]);
    const browser = await consoleSignIn(gw, admin.api.token as string);

    const html = unescapeHtml((await browser.get(`/console/teams/${a}`)).html);
    expect(lotRows(html)).toEqual([
      ['15 Mar 2026', 0, 'used up'],
      ['16 Mar 2026', 3, 'expires within a day'],
      ['17 Mar 2026', 20, 'expires in 2 days'],
      ['14 Apr 2026', 40, 'expires in 30 days'],
      ['15 Apr 2026', 80, '31 days left'],
    ]);
    expect(html).toContain('<p class="banner warn">63 tokens expire within 30 days and cannot be used after that.</p>');
    expect(html).toContain('<div class="card-note">2 usage sessions</div>');
    // The top users by name, linked to their page, the Autodesk ID under it.
    expect(html).toMatch(
      new RegExp(
        `<a href="/console/teams/${a}/members/${encodeURIComponent(ann.autodeskId)}">ann [0-9a-f]{8}</a><div class="sub">${ann.autodeskId}</div>`,
      ),
    );
    expect(html).not.toContain('No use in the last 30 days.');

    const spentHtml = unescapeHtml((await browser.get(`/console/teams/${spent}`)).html);
    expect(lotRows(spentHtml).map(([, left, state]) => [left, state])).toEqual([
      [0, 'used up'],
      [50, '351 days left'],
    ]);
    expect(spentHtml).not.toContain('expire within 30 days');
    expect(spentHtml).toContain('<div class="card-note">1 usage session</div>');

    const emptyHtml = (await browser.get(`/console/teams/${empty}`)).html;
    expect(emptyHtml).toContain('No tokens bought yet.');
    expect(emptyHtml.match(/No use in the last 30 days\./g)).toHaveLength(2);
    expect(emptyHtml).not.toContain('expire within 30 days');
  });
});

describe('console: spend and advice (R2)', () => {
  /** The lots table of the spend page: each lot's last cell, what it will lose, as shown. */
  const losses = (html: string) =>
    [...html.matchAll(/<tr data-lot="[^"]+">.*?<td class="num">([^<]*|<span[^>]*>[^<]*<\/span>)<\/td><\/tr>/g)].map((m) => m[1]);

  it('R2: says over how many whole days the rate is measured, warns of tokens that will expire unused and marks their lot', async () => {
    // A team made yesterday: 150 tokens expiring in 10 days, Revit used yesterday (10 tokens: the
    // rate), 50 bought today. At 10 a day the first lot loses 40; the second is used up in time.
    await setClock(gw, new Date(T0.getTime() - DAY));
    const a = await team(150, '2025-03-25T10:00:00Z');
    const ann = await newAccount(gw, 'ann');
    await joinTeam(gw, a, ann, { products: ['revit'] });
    expectStatus(await (await signIn(gw, ann)).api.post('/v1/launch', { product: 'revit', team: a }), 200);
    await setClock(gw, T0);
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 50 }), 201);
    const fresh = await team();
    const admin = await newAdmin(gw, [a, fresh]);
    const browser = await consoleSignIn(gw, admin.api.token as string);

    const html = (await browser.get(`/console/teams/${a}/spend`)).html;
    expect(leadOf(html)).toContain('over the last 1 whole day (14 Mar 2026 to 14 Mar 2026, UTC)');
    expect(unescapeHtml(html)).toContain('At the current rate 40 tokens will expire unused.');
    expect(losses(html)).toEqual(['<span class="badge warn">40</span>', '0']);

    // A team made today has no whole day to measure yet, and no tokens to lose.
    const freshHtml = (await browser.get(`/console/teams/${fresh}/spend`)).html;
    expect(leadOf(freshHtml)).toBe(
      'The team was made today: its rate is 0 until its first whole day (UTC) has passed. Tokens are drawn from the lots that expire first.',
    );
    expect(freshHtml).not.toContain('will expire unused.');
    expect(freshHtml).toContain('No valid tokens.');
  });
});

describe('console: usage as Flex shows it (R15)', () => {
  async function used(): Promise<{ a: string; browser: ConsoleBrowser; ann: string; bob: string }> {
    const { a, browser } = await setup(5000);
    const ann = await newAccount(gw, 'ann');
    const bob = await newAccount(gw, 'bob');
    for (const who of [ann, bob]) {
      await joinTeam(gw, a, who, { allProducts: true });
    }
    // Ann: Mon 2 Mar (AutoCAD and Revit), Wed 4 Mar, Tue 10 Mar. Bob: Tue 10 Mar, AutoCAD.
    for (const [at, who, product] of [
      ['2026-03-02T09:00:00Z', ann, 'autocad'],
      ['2026-03-02T09:00:00Z', ann, 'revit'],
      ['2026-03-04T09:00:00Z', ann, 'revit'],
      ['2026-03-10T09:00:00Z', ann, 'revit'],
      ['2026-03-10T09:00:00Z', bob, 'autocad'],
    ] as const) {
      await setClock(gw, at);
      expectStatus(await (await signIn(gw, who)).api.post('/v1/launch', { product, team: a }), 200);
    }
    await setClock(gw, T0);
    return { a, browser, ann: ann.autodeskId, bob: bob.autodeskId };
  }

  it('R15: by product, each product lists the users who used it with their tokens and days, beside a bar chart', async () => {
    const { a, browser, ann, bob } = await used();
    const html = (await browser.get(`/console/teams/${a}/usage?by=product&from=2026-03-01&to=2026-03-15`)).html;
    const section = (product: string) => between(html, `data-product="${product}"`, '</details>');
    const revit = section('revit');
    expect(revit).toContain('1 user, 30 tokens');
    expect(revit).toContain(ann);
    expect(revit).not.toContain(bob);
    const autocad = section('autocad');
    expect(autocad).toContain('2 users');
    expect(autocad).toContain(bob);
    // The chart's text alternative names every figure.
    expect(unescapeHtml(html)).toMatch(/aria-label="Tokens by product: Revit 30, AutoCAD \d+\."/);
  });

  it("R15: the overview's top products come most tokens first, whatever their names", async () => {
    const { a, browser } = await used();
    const html = (await browser.get(`/console/teams/${a}`)).html;
    const top = html.slice(html.indexOf('<h2>Top products</h2>'));
    const listed = [...top.matchAll(/<tr><td>([^<]+)<\/td><td class="num">([\d,]+)<\/td>/g)].map((m) => [
      m[1],
      Number(m[2]?.replace(/,/g, '')),
    ]);
    expect(listed.map(([name]) => name)).toEqual(['Revit', 'AutoCAD']);
    expect(listed[0]?.[1]).toBe(30);
    expect(Number(listed[1]?.[1])).toBeLessThan(30);
  });

  it('R15: by user, each user has days used per week, Monday to Sunday, with the weeks said in words', async () => {
    const { a, browser, ann, bob } = await used();
    const html = unescapeHtml((await browser.get(`/console/teams/${a}/usage?by=user&from=2026-03-01&to=2026-03-15`)).html);
    expect(rows(html, 'data-user')).toEqual([ann, bob]); // most days first
    // The count on top; one page, so no pager (usage-user-pages.test.ts reads a team of many pages).
    expect(html).toContain('<p class="user-count">2 users used a product in this range.</p>');
    expect(html).not.toContain('aria-label="User pages"');
    const annRow = html.slice(html.indexOf(`data-user="${ann}"`));
    expect(annRow).toMatch(/<td class="num">3<\/td>/);
    expect(annRow).toContain('week of 2 Mar, 2 days; week of 9 Mar, 1 day.');
    // Each user by name, the Autodesk ID under it.
    expect(annRow).toMatch(/<a href="[^"]+">ann [0-9a-f]{8}<\/a><div class="sub">ann\./);
  });

  it('R15: a member removed since is still named in usage and on the overview, marked, never linked to a page that is gone', async () => {
    const { a, browser, ann, bob } = await used();
    expect((await gw.op.delete(`/v1/teams/${a}/members/${encodeURIComponent(bob)}`)).status).toBe(204);
    for (const path of [`/console/teams/${a}`, ...['user', 'product'].map((by) => `/console/teams/${a}/usage?by=${by}`)]) {
      const html = (await browser.get(path)).html;
      // Every place that names Bob (the report, the weeks, a product's users, the top users) says he left.
      const named = html.split(`<div class="sub">${bob}</div>`).length - 1;
      expect(named, path).toBeGreaterThan(0);
      expect(html.split(`<div class="sub">${bob}</div><div class="sub">no longer a member</div>`).length - 1, path).toBe(named);
      const links = [...html.matchAll(/href="(\/console\/teams\/[^"/]+\/members\/[^"]+)"/g)].map((m) => unescapeHtml(m[1] ?? ''));
      expect(links, path).toContain(`/console/teams/${a}/members/${encodeURIComponent(ann)}`);
      expect(links, path).not.toContain(`/console/teams/${a}/members/${encodeURIComponent(bob)}`);
      for (const link of new Set(links)) expect((await browser.get(link)).status, link).toBe(200);
    }
  });

  it('R15: the preset ranges (past 30 days, 3, 6, 9, 12 months) sit beside the custom range and set it', async () => {
    const { a, browser } = await used();
    const base = `/console/teams/${a}/usage`;
    const plain = (await browser.get(base)).html;
    for (const label of ['Past 30 days', 'Past 3 months', 'Past 6 months', 'Past 9 months', 'Past 12 months', 'Custom range']) {
      expect(plain).toContain(`>${label}</a>`);
    }
    expect(plain).toContain('class="active" aria-current="true">Past 30 days</a>');
    for (const [range, from] of [
      ['30d', '2026-02-14'],
      ['3m', '2025-12-16'],
      ['12m', '2025-03-16'],
    ] as const) {
      const html = (await browser.get(`${base}?range=${range}&by=day`)).html;
      expect(html).toContain(`name="from" value="${from}"`);
      expect(html).toContain('name="to" value="2026-03-15"');
      const api = expectStatus(await gw.op.get(`/v1/teams/${a}/usage?by=day&from=${from}&to=2026-03-15`), 200);
      expect(html).toContain(`Tokens consumed per day from ${from} to 2026-03-15: ${api.total.tokens.toLocaleString('en-US')} in all.`);
    }
    // A custom range is kept as typed; a broken one is refused with the API's reason.
    expect((await browser.get(`${base}?from=2026-03-01&to=2026-03-10`)).html).toContain('name="from" value="2026-03-01"');
    expect((await browser.get(`${base}?from=2026-03-10&to=2026-03-01`)).status).toBe(400);

    // Half a range: from a day to today, or the 30 days up to a day; a day that does not exist
    // (or is not a day) is left out and the other end kept, as if it had not been typed.
    for (const [query, from, to] of [
      ['from=2026-01-01', '2026-01-01', '2026-03-15'],
      ['to=2026-03-10', '2026-02-09', '2026-03-10'],
      ['from=2026-02-30&to=2026-03-10', '2026-02-09', '2026-03-10'],
      ['from=2026-03-01&to=2026-02-31', '2026-03-01', '2026-03-15'],
      ['from=2026-01-01T00:00:00Z&to=2026-03-10', '2026-02-09', '2026-03-10'],
    ] as const) {
      const page = await browser.get(`${base}?by=day&${query}`);
      expect(page.status, query).toBe(200);
      expect(page.html, query).toContain(`name="from" value="${from}"`);
      expect(page.html, query).toContain(`name="to" value="${to}"`);
      expect(page.html, query).not.toContain('aria-current="true">Past 30 days</a>');
    }
  });

  it('R15: the report follows "by": people by name to their page, products by name, days in words; each view only on its own page', async () => {
    const { a, browser, ann } = await used();
    const page = async (by: string) =>
      unescapeHtml((await browser.get(`/console/teams/${a}/usage?by=${by}&from=2026-03-01&to=2026-03-15`)).html);
    const [byUser, byProduct, byDay] = await Promise.all([page('user'), page('product'), page('day')]);
    // The report's first column, row by row, and the choice the form keeps.
    const firstCells = (html: string) =>
      [...between(html, '<table class="usage">', '</table>').matchAll(/<tr><td>(.*?)<\/td><td class="num">/g)].map((m) => m[1]);
    const chosen = (html: string) =>
      [...between(html, '<select name="by">', '</select>').matchAll(/<option value="(\w+)" selected="">/g)].map((m) => m[1]);

    expect(firstCells(byUser)[0]).toMatch(
      new RegExp(`^<a href="/console/teams/${a}/members/${encodeURIComponent(ann)}">ann [0-9a-f]{8}</a><div class="sub">${ann}</div>$`),
    );
    expect(firstCells(byProduct)).toEqual(['AutoCAD', 'Revit']);
    expect(firstCells(byDay)).toEqual(['2 Mar 2026', '4 Mar 2026', '10 Mar 2026']);
    expect([chosen(byUser), chosen(byProduct), chosen(byDay)]).toEqual([['user'], ['product'], ['day']]);

    // The day chart on the day page; the users of each product on the product page; the weeks of
    // each user, named in the strip's words, on the user page.
    const shown = (html: string) => [
      html.includes('Tokens consumed per day from'),
      html.includes('<h2>Users of each product</h2>'),
      html.includes('<h2>Days used per week</h2>'),
    ];
    expect([shown(byUser), shown(byProduct), shown(byDay)]).toEqual([
      [false, false, true],
      [false, true, false],
      [true, false, false],
    ]);
    expect(byUser).toMatch(/aria-label="Days ann [0-9a-f]{8} used a product, week by week: week of 2 Mar/);
    // In the product view too, each user by name, linked to their page, the Autodesk ID under it.
    const revit = byProduct.slice(byProduct.indexOf('data-product="revit"'));
    expect(revit).toMatch(
      new RegExp(`<a href="/console/teams/${a}/members/${encodeURIComponent(ann)}">ann [0-9a-f]{8}</a><div class="sub">${ann}</div>`),
    );
    expect(byProduct).not.toContain('No product was used in this range.');
  });

  it('R15: a range nobody used says so in each view, with totals of zero', async () => {
    const { a, browser } = await used();
    const page = async (by: string) =>
      unescapeHtml((await browser.get(`/console/teams/${a}/usage?by=${by}&from=2026-01-01&to=2026-01-31`)).html);
    const [byUser, byProduct, byDay] = await Promise.all([page('user'), page('product'), page('day')]);
    for (const html of [byUser, byProduct, byDay]) {
      expect(html).toContain('No tokens consumed in this range.');
      expect(html).toContain('<tfoot><tr><th>Total</th><td class="num">0</td><td class="num">0</td></tr></tfoot>');
    }
    expect(byProduct).toContain('No product was used in this range.');
    expect(byProduct).not.toContain('Tokens by product');
    expect(byUser).toContain('Nobody used a product in this range.');
    expect(byDay).toContain('Tokens consumed per day from 2026-01-01 to 2026-01-31: 0 in all.');
  });

  it('R15: a custom range is marked as the current choice; a preset range is, and the custom one is not', async () => {
    const { a, browser } = await used();
    const custom = (await browser.get(`/console/teams/${a}/usage?from=2026-03-01&to=2026-03-10`)).html;
    expect(custom).toContain('<a href="#custom-range" class="active" aria-current="true">');
    expect(custom).not.toMatch(/aria-current="true">Past/);
    const preset = (await browser.get(`/console/teams/${a}/usage?range=3m`)).html;
    expect(preset).toContain('<a href="#custom-range">');
    expect(preset).toContain('aria-current="true">Past 3 months</a>');
  });

  it('the API ledger filters by kind and user, and its next-page link keeps the filters', async () => {
    const a = await team(10);
    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 5 }), 201);
    const page = await gw.op.get(`/v1/teams/${a}/ledger?kind=purchase&limit=1`);
    expect(expectStatus(page, 200)).toHaveLength(1);
    expect(page.headers.get('link')).toMatch(/after=\d+&limit=1&kind=purchase>; rel="next"/);
    // Following the links: each entry once, then an empty page.
    const second = await gw.op.get(/<([^>]+)>/.exec(page.headers.get('link') ?? '')?.[1] ?? '');
    expect(expectStatus(second, 200).map((e: any) => e.tokens)).toEqual([5]);
    const third = await gw.op.get(/<([^>]+)>/.exec(second.headers.get('link') ?? '')?.[1] ?? '');
    expect(expectStatus(third, 200)).toEqual([]);
    // A page shorter than its limit is the last: no next link.
    const short = await gw.op.get(`/v1/teams/${a}/ledger?kind=purchase&limit=5`);
    expect([expectStatus(short, 200).length, short.headers.get('link')]).toEqual([2, null]);
    expect(expectStatus(await gw.op.get(`/v1/teams/${a}/ledger?kind=charge`), 200)).toEqual([]);
    expect((await gw.op.get(`/v1/teams/${a}/ledger?kind=gift`)).status).toBe(400);
  });

  it("R5: a new gateway's first ledger entry is on the API's first page, read without a cursor", async () => {
    const fresh = await startTestGateway();
    try {
      const t = await newTeam(fresh, 10);
      const first = expectStatus(await fresh.op.get(`/v1/teams/${t}/ledger`), 200);
      expect(first.map((e: any) => [e.kind, e.tokens])).toEqual([['purchase', 10]]);
    } finally {
      await fresh.close();
    }
  });
});

describe('console: how long a sign-in lasts', () => {
  const HOUR = 3_600_000;
  it('ends after two idle hours; activity slides that, up to twelve hours after signing in', async () => {
    await setClock(gw, T0);
    const { a, key } = await setup();
    const page = `/console/teams/${a}`;
    const signin = `/console/signin?${new URLSearchParams({ next: page })}`;
    // Idle: still signed in a minute before two hours; two hours after that last use, signed out.
    const idle = await consoleSignIn(gw, key);
    await setClock(gw, new Date(T0.getTime() + 2 * HOUR - 60_000));
    expect((await idle.get(page)).status).toBe(200);
    await setClock(gw, new Date(T0.getTime() + 4 * HOUR));
    expect(await idle.get(page)).toMatchObject({ status: 303, location: signin });
    // Active every hour: kept until twelve hours after signing in, not a minute more.
    const start = T0.getTime() + 4 * HOUR;
    const busy = await consoleSignIn(gw, key);
    const beside = await consoleSignIn(gw, key); // signed in at the same time, then left alone
    for (let h = 1; h <= 11; h++) {
      await setClock(gw, new Date(start + h * HOUR));
      expect((await busy.get(page)).status, `hour ${h}`).toBe(200);
      // One session's activity keeps only that session alive.
      if (h === 3) expect(await beside.get(page)).toMatchObject({ status: 303, location: signin });
    }
    await setClock(gw, new Date(start + 12 * HOUR + 60_000));
    expect(await busy.get(page)).toMatchObject({ status: 303, location: signin });
    await setClock(gw, T0);
  });
});
