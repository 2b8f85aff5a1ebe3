/**
 * The Members page's search box in a real headless Chromium against a real gateway, JavaScript
 * off (a plain GET form must do): the admin types part of a name and sees that one member, the
 * counts unchanged; "Show all" brings the list back. Screenshots go to test/artifacts/.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postCsv, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { newTeam } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
});

afterAll(() => closeTestbed({ gw, browser }));

describe('finding a member from the console', () => {
  it('typing part of a name into the box shows that one member, without JavaScript', async () => {
    const team = await newTeam(gw, 100);
    const { key } = expectStatus(await gw.op.post('/v1/admins', { name: 'Sam Search', email: uniqueEmail('admin'), teams: [team] }), 201);
    const people = { 'Élodie Martin': uniqueEmail('em'), 'Ana Pérez': uniqueEmail('ap'), 'Bob Stone': uniqueEmail('bs') };
    const csv = `name,email,products,guest\n${Object.entries(people)
      .map(([name, email]) => `${name},${email},,`)
      .join('\n')}\n`;
    expectStatus(await postCsv(gw.anon.as(key), `/v1/teams/${team}/members/import`, csv), 200);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: gw.url, javaScriptEnabled: false });
    const page = await context.newPage();
    // A box or row that is not there fails in seconds, not at the test's timeout.
    page.setDefaultTimeout(5000);
    const refused: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') refused.push(m.text());
    });
    await page.goto('/console');
    await page.fill('input[name="key"]', key);
    await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
    await page.goto(`/console/teams/${team}/members`);
    const rows = () => page.locator('tr[data-member]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-member')));
    const lead = await page.textContent('p.lead');
    expect((await rows()).sort()).toEqual(Object.values(people).sort());

    const box = page.getByRole('searchbox', { name: 'Find a member' });
    await box.fill('ÉLOD');
    await Promise.all([page.waitForURL(/[?&]q=/), box.press('Enter')]);
    expect(await rows()).toEqual([people['Élodie Martin']]);
    expect(await page.textContent('tr[data-member] a')).toBe('Élodie Martin');
    expect(await box.inputValue()).toBe('ÉLOD');
    expect(await page.textContent('p.lead')).toBe(lead);
    await page.screenshot({ path: `${ARTIFACTS}members-search-found.png`, fullPage: true });

    await box.fill('nobody');
    await Promise.all([page.waitForURL(/q=nobody/), page.click('button:has-text("Search")')]);
    expect(await rows()).toEqual([]);
    expect(await page.textContent('td.empty')).toContain('No member');

    await Promise.all([page.waitForURL((u) => !u.search.includes('q=')), page.click('a:has-text("Show all")')]);
    expect(await rows()).toHaveLength(3);
    expect(refused).toEqual([]);
    await context.close();
  });
});
