/**
 * R11 in a real headless Chromium: an admin adds an existing account by its Autodesk ID, typed in
 * the Members page's one form (the one product picker), sees who was invited under the account's
 * own name, and a refused ID keeps what was typed and is said where the page opens.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, uniqueEmail } from '../harness/admin';
import { ARTIFACTS, closeTestbed, pageTestbed } from '../harness/browser';
import { newTeam } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');
const DESKTOP = { width: 1280, height: 800 };

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
});

afterAll(() => closeTestbed({ gw, browser }));

describe('console: adding an existing account by Autodesk ID', () => {
  it('invites the account under its own name; an unknown ID is said at the top and the form keeps what was typed', async () => {
    const team = await newTeam(gw, 100);
    const { key } = expectStatus(await gw.op.post('/v1/admins', { name: 'Ida Admin', email: uniqueEmail('admin'), teams: [team] }), 201);
    const existing = uniqueEmail('eve');
    expectStatus(await gw.op.post('/v1/users', { autodeskId: existing, name: 'Eve Existing', password: 'a-long-password-1' }), 201);
    const context = await browser.newContext({ viewport: DESKTOP, baseURL: gw.url });
    const page = await context.newPage();
    await page.goto('/console');
    await page.fill('input[name="key"]', key);
    await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
    await page.goto(`/console/teams/${team}/members`);

    // One form asks anyone to join, with one product picker, one guest box.
    expect(await page.locator('fieldset.picker').count()).toBe(1);
    expect(await page.locator('input[name="guest"]').count()).toBe(1);
    const form = page.locator('#add-member form');
    await form.locator('input[name="invite"]').fill(existing);
    await form.locator('input[name="product"][value="revit"]').check();
    await Promise.all([page.waitForURL(/done=asked/), form.locator('button:has-text("Send invitation")').click()]);
    expect(await page.textContent('.banner.ok')).toContain(`Invitation sent to Eve Existing (${existing})`);
    const row = page.locator(`tr[data-member="${existing}"]`);
    expect(await row.locator('.who-cell a').textContent()).toBe('Eve Existing');
    expect(await row.locator('.badge').first().textContent()).toBe('invited');
    expect((await mailsTo(gw, existing)).map((m) => m.kind)).toEqual(['invitation']);

    const ghost = uniqueEmail('ghost');
    await form.locator('input[name="invite"]').fill(ghost);
    await form.locator('input[name="guest"]').check();
    await Promise.all([page.waitForLoadState(), form.locator('button:has-text("Send invitation")').click()]);
    const banner = page.locator('.banner.err');
    expect(await banner.textContent()).toContain(`there is no Autodesk account ${ghost}`);
    const box = await banner.boundingBox();
    expect(box && box.y + box.height, 'the refusal is within the first screen').toBeLessThanOrEqual(DESKTOP.height);
    expect(await form.locator('input[name="invite"]').inputValue()).toBe(ghost);
    expect(await form.locator('input[name="guest"]').isChecked()).toBe(true);
    // The way to invite them without an account is said with their address in it.
    expect(await banner.textContent()).toContain(`write their name before the e-mail: Full Name <${ghost}>`);
    await page.screenshot({ path: `${ARTIFACTS}console-add-existing-refused.png`, fullPage: true });
    await context.close();
  });
});
