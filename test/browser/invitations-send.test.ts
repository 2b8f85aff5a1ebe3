/**
 * The console's "Send invitations" button in a real headless Chromium against a real gateway: an
 * admin imports people (no e-mail, R14), then sends all their invitations with one click and reads
 * what was done; each person gets one e-mail whose link works. Screenshots go to test/artifacts/.
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
const PHONE = { width: 390, height: 844 };

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  ({ gw, browser } = await pageTestbed(T0));
});

afterAll(() => closeTestbed({ gw, browser }));

const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}invitations-send-${name}.png`, fullPage: true });

/** A team and its admin, signed in to the console in a fresh browser profile at `viewport`. */
async function adminOfNewTeam(viewport = DESKTOP): Promise<{ team: string; context: BrowserContext; page: Page }> {
  const team = await newTeam(gw, 100);
  const { key } = expectStatus(await gw.op.post('/v1/admins', { name: 'Ines Importer', email: uniqueEmail('admin'), teams: [team] }), 201);
  const context = await browser.newContext({ viewport, baseURL: gw.url });
  const page = await context.newPage();
  await page.goto('/console');
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(/\/console\/teams\//), page.click('button:has-text("Sign in")')]);
  return { team, context, page };
}

async function importFile(page: Page, team: string, people: readonly string[]): Promise<void> {
  await page.goto(`/console/teams/${team}/members`);
  const file = `${ARTIFACTS}invitations-send-${team}.csv`;
  writeFileSync(file, `name,email,products\n${people.map((p, i) => `Person ${i},${p},autocad`).join('\n')}\n`);
  await page.setInputFiles('input[type="file"]', file);
  await page.click('button:has-text("Import")');
  await page.waitForSelector('#import-result');
}

const invitationMails = async (to: string) => (await mailsTo(gw, to)).filter((m) => m.kind === 'invitation');

describe('sending the invitations of an import from the console (R11, R14)', () => {
  it('one click sends every imported person their invitation, says so, and the button goes away', async () => {
    const { team, context, page } = await adminOfNewTeam();
    const people = [uniqueEmail('ana'), uniqueEmail('ben'), uniqueEmail('cy')];
    await importFile(page, team, people);
    expect(await page.textContent('#import-result')).toContain('3 members added');
    for (const p of people) {
      expect(await page.textContent(`tr[data-member="${p}"] td:nth-child(2)`)).toContain('not e-mailed yet');
      expect(await mailsTo(gw, p)).toEqual([]);
    }
    const button = page.locator('#send-invitations button');
    expect(await button.textContent()).toBe('Send invitations to 3 people');
    await shot(page, 'offered');

    await Promise.all([page.waitForURL(/done=sent/), button.click()]);
    expect(await page.textContent('.banner.ok')).toBe('Invitations sent to 3 people; each is valid for 7 days.');
    expect(await page.locator('#send-invitations').count()).toBe(0);
    for (const p of people) {
      expect(await page.textContent(`tr[data-member="${p}"] td:nth-child(2)`)).toContain('until 22 Mar 2026');
      expect(await invitationMails(p)).toHaveLength(1);
    }
    await shot(page, 'sent');

    // Reloading the page that answered sends nothing more (it is a plain GET after the redirect).
    await page.reload();
    for (const p of people) expect(await invitationMails(p)).toHaveLength(1);

    // The link in one of those e-mails opens the invitation page, naming the team's new member.
    const link = /^Link: (\S+)$/m.exec((await invitationMails(people[0] as string))[0].text)?.[1] as string;
    const invited = await context.newPage();
    await invited.goto(link);
    expect(await invited.textContent('body')).toContain('Person 0');
    await context.close();
  });

  it('on a phone the offer fits the window; a second import is offered on its own', async () => {
    const { team, context, page } = await adminOfNewTeam(PHONE);
    await importFile(page, team, [uniqueEmail('dee')]);
    await page.goto(`/console/teams/${team}/members`);
    expect(await page.locator('#send-invitations button').textContent()).toBe('Send invitations to 1 person');
    const box = await page.locator('#send-invitations button').boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    await Promise.all([page.waitForURL(/done=sent/), page.click('#send-invitations button')]);
    await importFile(page, team, [uniqueEmail('eve'), uniqueEmail('fay')]);
    expect(await page.locator('#send-invitations button').textContent()).toBe('Send invitations to 2 people');
    await shot(page, 'phone');
    await context.close();
  });
});
