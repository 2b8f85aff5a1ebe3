/**
 * R11 in the console: asking an existing Autodesk account by its ID from the Members page's one
 * form (an e-mail alone where a newcomer is written "Full Name <email>"), over real HTTP, on both
 * engines. The same service as POST /v1/teams/:team/members with {autodeskId}:
 * the account's own name, an invitation e-mail, the person listed as invited; an unknown ID, one
 * already on the team, the per-admin look-up limit (shared with the API) and the per-admin
 * invitation limit said in words, with the form kept as typed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, uniqueEmail } from '../harness/admin';
import { between, consoleSignIn, textOf, unescapeHtml } from '../harness/console';
import { seedCatalog } from '../harness/fixtures';
import { rateLimitsWith, startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});
const open: TestGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
});

const notice = (html: string) => textOf(between(html, '<p class="banner ok" role="status">', '</p>'));
const refusal = (html: string) => textOf(between(html, '<p class="banner err" role="alert">', '</p>'));
/** The Members page's one form that asks someone to join, as the page shows it: the text typed, the boxes checked. */
function askForm(html: string) {
  const form = between(html, '<section class="panel" id="add-member">', '</section>');
  const typed = /name="invite"[^>]*value="([^"]*)"/.exec(form)?.[1];
  return {
    invite: typed === undefined ? null : unescapeHtml(typed),
    guest: /name="guest" value="1" checked/.test(form),
    products: [...form.matchAll(/name="product" value="([^"]+)" checked/g)].map((m) => m[1]),
  };
}
const rowOf = (html: string, id: string) => textOf(between(unescapeHtml(html), `<tr data-member="${id}">`, '</tr>'));

async function account(g: TestGateway, name: string): Promise<string> {
  const autodeskId = uniqueEmail(name.split(' ')[0]?.toLowerCase());
  expectStatus(await g.op.post('/v1/users', { autodeskId, name, password: 'a-long-password-1' }), 201);
  return autodeskId;
}

describe('console: adding an existing account by Autodesk ID (R11)', () => {
  it('invites the account under its own name, e-mails it, lists it as invited and says who was invited', async () => {
    const a = await team();
    const admin = await newAdmin(gw, [a]);
    const browser = await consoleSignIn(gw, admin.api.token as string);
    const ada = await account(gw, 'Ada Account');
    const page = await browser.get(`/console/teams/${a}/members`);
    expect(askForm(page.html)).toEqual({ invite: '', guest: false, products: [] });

    // Typed in capitals with blanks around: the ID as the API takes it.
    const sent = await browser.post(`/console/teams/${a}/members`, {
      invite: ` ${ada.toUpperCase()} `,
      guest: '1',
      product: ['revit'],
    });
    expect([sent.status, sent.location]).toEqual([303, `/console/teams/${a}/members?done=asked&who=${encodeURIComponent(ada)}`]);
    const after = (await browser.get(sent.location as string)).html;
    expect(notice(after)).toBe(
      `Invitation sent to Ada Account (${ada}), who already has an Autodesk account. They are listed as invited until they accept it.`,
    );
    expect(rowOf(after, ada)).toBe(`Ada Account ${ada} invited until 22 Mar 2026 guest Revit Access Resend Remove`);
    const mails = (await mailsTo(gw, ada)).filter((m) => m.kind === 'invitation');
    expect(mails).toHaveLength(1);
    expect(mails[0].text).toContain('Ada Account');
    // The same audit entry as the API's: an existing account, asked from the console.
    const trail = expectStatus(await gw.op.get(`/v1/teams/${a}/audit?action=member.invited`), 200);
    expect(trail.map((e: any) => [e.actor.split(':')[0], e.target, e.after.account, e.after.name])).toEqual([
      ['console', ada, 'existing', 'Ada Account'],
    ]);
  });

  it('the page has one form and one product picker: an e-mail alone asks the account, a name and e-mail invites anyone', async () => {
    const a = await team();
    const admin = await newAdmin(gw, [a]);
    const browser = await consoleSignIn(gw, admin.api.token as string);
    const page = (await browser.get(`/console/teams/${a}/members`)).html;
    expect(page.match(/<fieldset class="picker">/g)).toHaveLength(1);
    expect(page.match(/name="allProducts"/g)).toHaveLength(1);
    expect(page.match(/name="guest"/g)).toHaveLength(1);
    expect(page).not.toContain('name="autodeskId"');

    const kim = await account(gw, 'Kim Account');
    const newcomer = uniqueEmail('newcomer');
    const asked = await browser.post(`/console/teams/${a}/members`, { invite: kim, product: ['maya'] });
    expect(asked.location).toBe(`/console/teams/${a}/members?done=asked&who=${encodeURIComponent(kim)}`);
    const invited = await browser.post(`/console/teams/${a}/members`, { invite: `Nia Newcomer <${newcomer}>`, allProducts: '1' });
    expect(invited.location).toBe(`/console/teams/${a}/members?done=invited&who=${encodeURIComponent(newcomer)}`);
    const members = expectStatus(await gw.op.get(`/v1/teams/${a}/members`), 200) as {
      autodeskId: string;
      name: string;
      allProducts: boolean;
      products: string[];
    }[];
    expect(members.map((m) => [m.autodeskId, m.name, m.allProducts, m.products]).sort()).toEqual(
      [
        [kim, 'Kim Account', false, ['maya']],
        [newcomer, 'Nia Newcomer', true, []],
      ].sort(),
    );
    // The "Add an existing account" form of a page served before (a tab left open) is answered alike.
    const old = await account(gw, 'Ola Oldtab');
    const fromOldTab = await browser.post(`/console/teams/${a}/members/existing`, { autodeskId: old, guest: '1' });
    expect(fromOldTab.location).toBe(`/console/teams/${a}/members?done=asked&who=${encodeURIComponent(old)}`);
  });

  it('an unknown ID and one already invited or a member are refused in words, the form kept as typed, nothing sent', async () => {
    const a = await team();
    const admin = await newAdmin(gw, [a]);
    const browser = await consoleSignIn(gw, admin.api.token as string);
    const ghost = uniqueEmail('ghost');
    const unknown = await browser.post(`/console/teams/${a}/members`, { invite: ghost, product: ['maya', 'revit'] });
    expect(unknown.status).toBe(404);
    expect(refusal(unknown.html)).toBe(
      `No invitation was sent: there is no Autodesk account ${ghost}. To invite someone without one, write their name before the e-mail: Full Name <${ghost}>.`,
    );
    expect(askForm(unknown.html)).toEqual({ invite: ghost, guest: false, products: ['maya', 'revit'] });
    expect(await mailsTo(gw, ghost)).toEqual([]);

    const bo = await account(gw, 'Bo Before');
    expect((await browser.post(`/console/teams/${a}/members`, { invite: bo })).status).toBe(303);
    const twice = await browser.post(`/console/teams/${a}/members`, { invite: bo, guest: '1' });
    expect(twice.status).toBe(409);
    const name = unescapeHtml(new RegExp(`<option value="${a}" selected="">([^<]+)</option>`).exec(twice.html)?.[1] ?? '?');
    expect(refusal(twice.html)).toBe(
      `No invitation was sent: ${bo} is already a member of ${name} or invited to it. To remind them, use Resend in the list.`,
    );
    expect(askForm(twice.html)).toEqual({ invite: bo, guest: true, products: [] });
    expect((await mailsTo(gw, bo)).filter((m) => m.kind === 'invitation')).toHaveLength(1);

    // Neither an e-mail nor a name and e-mail: said, nothing looked up.
    const typo = await browser.post(`/console/teams/${a}/members`, { invite: 'bo-at-example' });
    expect(typo.status).toBe(400);
    expect(refusal(typo.html)).toBe(
      'No invitation was sent: “bo-at-example” is neither a name and e-mail (Full Name <email>) nor an Autodesk ID (an e-mail address).',
    );
    expect(askForm(typo.html).invite).toBe('bo-at-example');
  });
});

describe('console: the per-admin look-up limit (FLEXGATE_RATE_LOOKUP_PER_ADMIN)', () => {
  it('console and API draw on one bucket per admin; the console says how long to wait and keeps the form', async () => {
    const g = await startTestGateway({ rateLimit: true, rateLimits: rateLimitsWith({ lookupPerAdmin: 3 }) });
    open.push(g);
    await seedCatalog(g);
    const { id: t } = expectStatus(await g.op.post('/v1/teams', { name: `Lookups ${Date.now()}` }), 201);
    const admin = await newAdmin(g, [t]);
    const other = await newAdmin(g, [t]);
    const browser = await consoleSignIn(g, admin.api.token as string);
    const known = await account(g, 'Kay Known');
    // Two looked up through the API, one through the console: the bucket of three is empty.
    for (const i of [0, 1])
      expect((await admin.api.post(`/v1/teams/${t}/members`, { autodeskId: `probe${i}@example.com` })).status).toBe(404);
    expect((await browser.post(`/console/teams/${t}/members`, { invite: 'probe2@example.com' })).status).toBe(404);
    const limited = await browser.post(`/console/teams/${t}/members`, { invite: known, product: ['autocad'] });
    expect(limited.status).toBe(429);
    expect(refusal(limited.html)).toMatch(
      /^No invitation was sent: you looked up too many Autodesk IDs in a short time\. Wait \d+ seconds?, then try again\.$/,
    );
    expect(askForm(limited.html)).toEqual({ invite: known, guest: false, products: ['autocad'] });
    expect(await mailsTo(g, known)).toEqual([]);
    // The API refuses this admin too; another admin still looks up.
    expect((await admin.api.post(`/v1/teams/${t}/members`, { autodeskId: known })).status).toBe(429);
    expectStatus(await other.api.post(`/v1/teams/${t}/members`, { autodeskId: known }), 201);
    // Invitations by name and e-mail tell nothing of accounts: not held back.
    expect((await browser.post(`/console/teams/${t}/members`, { invite: `New Person <${uniqueEmail('new')}>` })).status).toBe(303);
  });
});

describe('console: the per-admin invitation limit (FLEXGATE_RATE_INVITE_PER_ADMIN)', () => {
  it('is said in console words, how long to wait included, the form kept', async () => {
    const g = await startTestGateway({ rateLimit: true, rateLimits: rateLimitsWith({ invitePerAdmin: 1 }) });
    open.push(g);
    await seedCatalog(g);
    const { id: t } = expectStatus(await g.op.post('/v1/teams', { name: `Invites ${Date.now()}` }), 201);
    const admin = await newAdmin(g, [t]);
    const browser = await consoleSignIn(g, admin.api.token as string);
    const [first, second] = [await account(g, 'Fay First'), await account(g, 'Sid Second')];
    expect((await browser.post(`/console/teams/${t}/members`, { invite: first })).status).toBe(303);
    const limited = await browser.post(`/console/teams/${t}/members`, { invite: second, guest: '1', product: ['maya'] });
    expect(limited.status).toBe(429);
    // A bucket of one a minute: the wait is said as a person reads it (waitWords), never "retry in 60 s".
    const says = /^No invitation was sent: you sent too many invitations in a short time\. Wait 1 minute, then try again\.$/;
    expect(refusal(limited.html)).toMatch(says);
    expect(askForm(limited.html)).toEqual({ invite: second, guest: true, products: ['maya'] });
    expect(await mailsTo(g, second)).toEqual([]);
    // The invitation by name and e-mail draws on the same limit, and says it alike.
    const invited = await browser.post(`/console/teams/${t}/members`, { invite: `New Person <${uniqueEmail('new')}>` });
    expect(invited.status).toBe(429);
    expect(refusal(invited.html)).toMatch(says);
    // The wait in seconds too, as the API's 429 says it: what a script or a browser extension reads.
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it("Resend draws on it too, and answers its 429 with the wait: Retry-After as the form's, said in the same words", async () => {
    const g = await startTestGateway({ rateLimit: true, rateLimits: rateLimitsWith({ invitePerAdmin: 1 }) });
    open.push(g);
    await seedCatalog(g);
    const { id: t } = expectStatus(await g.op.post('/v1/teams', { name: `Resends ${Date.now()}` }), 201);
    const admin = await newAdmin(g, [t]);
    const browser = await consoleSignIn(g, admin.api.token as string);
    const who = uniqueEmail('resent');
    expect((await browser.post(`/console/teams/${t}/members`, { invite: `Res Ent <${who}>` })).status).toBe(303);
    const [member] = expectStatus(await g.op.get(`/v1/teams/${t}/members?q=${encodeURIComponent(who)}`), 200);
    const resent = await browser.post(`/console/teams/${t}/members/${encodeURIComponent(who)}/resend`, {
      invitation: member.invitation.id,
    });
    expect(resent.status).toBe(429);
    const wait = Number(resent.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(refusal(resent.html)).toBe(
      'The invitation was not sent again: you sent too many invitations in a short time. Wait 1 minute, then try again.',
    );
    expect(await mailsTo(g, who)).toHaveLength(1);
  });
});
