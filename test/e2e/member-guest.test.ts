/**
 * Changing a member's guest status (`PUT /v1/teams/:team/members/:autodeskId/guest`). R13: a guest
 * gets no default products, a regular member gets them, so the change is an access change like a
 * product change (R12): it reaches the next launch on every instance, a warm answer cached before
 * it included; it is audited; it e-mails an accepted member whose products it changes (R14).
 */
import { connect } from '@flexgate/gateway';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf, uniqueEmail } from '../harness/admin';
import { consoleSignIn } from '../harness/console';
import { testEngine } from '../harness/db';
import { balanceOf, joinTeam, ledgerOf, newAccount, newTeam, seedCatalog, signIn, type TestUser } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { Api, expectStatus, simultaneously } from '../harness/http';

let a: TestGateway;
let b: TestGateway;
let db: ReturnType<typeof connect>;
beforeAll(async () => {
  a = await startTestGateway();
  // A second instance on the same database: each keeps its own warm answers (launch/warm.ts).
  b = await startTestGateway({}, a);
  await seedCatalog(a);
  db = connect({ url: a.database.url });
});
afterAll(async () => {
  await db?.close();
  await b?.close();
  await a?.close();
});

const on = (gw: TestGateway, user: TestUser) => new Api(gw.url, user.api.token as string);
const guestPath = (team: string, who: string) => `/v1/teams/${team}/members/${encodeURIComponent(who)}/guest`;
const epoch = async () => Number((await sql<{ v: number }>`select v from access_epoch where id = 1`.execute(db.db)).rows[0]?.v);
const accessMails = async (to: string) => (await mailsTo(a, to)).filter((m) => m.kind === 'access');
/** Relaunches instance `gw` answered from its warm cache (`/metrics`), with a recheck or without. */
const warmAnswers = async (gw: TestGateway) => {
  const text = expectStatus(await gw.op.get('/metrics'), 200) as string;
  return ['cached', 'rechecked']
    .map((how) => text.split('\n').find((l) => l.startsWith(`flexgate_launch_warm_answers_total{how="${how}"} `)))
    .reduce((n, line) => n + Number(line?.split(' ')[1] ?? 0), 0);
};
const trailOf = async (api: Api, team: string) => expectStatus(await api.get(`/v1/teams/${team}/audit?action=member.guest.changed`), 200);

/** A team with `tokens`, default products `defaults`, and its admin. */
async function team(defaults: string[], tokens = 100) {
  const id = await newTeam(a, tokens);
  expectStatus(await a.op.put(`/v1/teams/${id}/defaults`, { products: defaults }), 200);
  const admin = await newAdmin(a, [id]);
  return { id, admin };
}

/** A member who accepted, signed in. */
async function member(teamId: string, selection: { products?: string[]; allProducts?: boolean; guest?: boolean }): Promise<TestUser> {
  const account = await newAccount(a, 'guest');
  await joinTeam(a, teamId, account, selection);
  return signIn(a, account);
}

describe(`guest status changes access at the next launch (R13), on ${testEngine()}`, () => {
  it("R13: a guest made a regular member gets the team's defaults at the next launch, charged their daily rate", async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'], guest: true });
    const refused = await user.api.post('/v1/launch', { product: 'revit' });
    expect([refused.status, refused.body.code, refused.body.rule]).toEqual([403, 'no-access', 'R13']);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200).charged).toBe(7);

    const made = expectStatus(await t.admin.api.put(guestPath(t.id, user.autodeskId), { guest: false }), 200);
    expect(made).toMatchObject({ team: t.id, autodeskId: user.autodeskId, guest: false, status: 'active', products: ['autocad'] });
    const granted = expectStatus(await user.api.post('/v1/launch', { product: 'revit' }), 200);
    expect(granted).toMatchObject({ granted: true, source: 'flex', team: t.id, charged: 10, balance: 100 - 7 - 10 });
    expect((await ledgerOf(a, t.id)).filter((e) => e.kind === 'charge').map((e) => [e.product, e.tokens])).toEqual([
      ['autocad', -7],
      ['revit', -10],
    ]);
    // The admins' explain and the member's own list say the same.
    const explain = expectStatus(await t.admin.api.get(`/v1/teams/${t.id}/members/${encodeURIComponent(user.autodeskId)}/access`), 200);
    expect(explain.find((x: any) => x.product === 'revit')).toMatchObject({ granted: true, source: 'flex' });
    const mine = expectStatus(await user.api.get('/v1/me/products'), 200);
    expect(mine.map((p: any) => p.key).sort()).toEqual(['autocad', 'revit']);
  });

  it('R13: a regular member made a guest on instance B loses the defaults at the next launch on A, its warm answer included; own products stay', async () => {
    const t = await team(['3ds-max']);
    const user = await member(t.id, { products: ['autocad'] });
    const first = expectStatus(await on(a, user).post('/v1/launch', { product: '3ds-max' }), 200);
    expect(first.charged).toBe(9);
    // The relaunches in the open session: the first is decided and kept, the second answered from A's warm cache.
    const warm = await warmAnswers(a);
    for (let i = 0; i < 2; i++) {
      expect(expectStatus(await on(a, user).post('/v1/launch', { product: '3ds-max' }), 200)).toMatchObject({
        session: { id: first.session.id },
        charged: 0,
      });
    }
    expect(await warmAnswers(a)).toBeGreaterThan(warm);
    expect(expectStatus(await b.op.put(guestPath(t.id, user.autodeskId), { guest: true }), 200).guest).toBe(true);
    for (const gw of [a, b]) {
      const refused = await on(gw, user).post('/v1/launch', { product: '3ds-max' });
      expect([refused.status, refused.body.code, refused.body.rule]).toEqual([403, 'no-access', 'R13']);
    }
    expect(await balanceOf(a, t.id)).toBe(100 - 9);
    expect(expectStatus(await on(a, user).post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ source: 'flex', charged: 7 });
  });

  it('R13: toggled over and over, the launch right after each change follows it: never a warm answer from before', async () => {
    const t = await team(['maya'], 1000);
    const user = await member(t.id, {});
    const path = guestPath(t.id, user.autodeskId);
    const session = expectStatus(await user.api.post('/v1/launch', { product: 'maya' }), 200).session.id;
    const wrong: string[] = [];
    for (let i = 0; i < 25; i++) {
      expectStatus(await t.admin.api.put(path, { guest: false }), 200);
      // Two relaunches: the second is answered from the warm cache, which the change must not outlive.
      for (let j = 0; j < 2; j++) {
        const again = await user.api.post('/v1/launch', { product: 'maya' });
        if (again.status !== 200 || again.body.session.id !== session || again.body.charged !== 0)
          wrong.push(`regular: ${again.status} ${again.text}`);
      }
      expectStatus(await t.admin.api.put(path, { guest: true }), 200);
      const next = await user.api.post('/v1/launch', { product: 'maya' });
      if (next.status !== 403 || next.body.rule !== 'R13') wrong.push(`guest: ${next.status} ${next.text}`);
    }
    expect(wrong, `${wrong.length} launches answered what held before the change:\n${wrong.slice(0, 3).join('\n')}`).toEqual([]);
    expect(await balanceOf(a, t.id)).toBe(1000 - 9);
  }, 60_000);
});

describe('the change itself: audit, e-mail, nothing for nothing', () => {
  it('R13/R14: audited with who, before and after; an accepted member is e-mailed the products they may now use', async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'] });
    const before = (await accessMails(user.autodeskId)).length;
    const rid = `guest-${Date.now()}`;
    expectStatus(await t.admin.api.put(guestPath(t.id, user.autodeskId), { guest: true }, { 'x-request-id': rid }), 200);
    expect(await trailOf(t.admin.api, t.id)).toMatchObject([
      {
        team: t.id,
        actor: `admin:${t.admin.id}`,
        action: 'member.guest.changed',
        target: user.autodeskId,
        before: { guest: false },
        after: { guest: true },
        requestId: rid,
      },
    ]);
    const [asGuest] = (await accessMails(user.autodeskId)).slice(before);
    expect(asGuest?.text).toContain('You may now use:\n  - AutoCAD\n\n');

    expectStatus(await t.admin.api.put(guestPath(t.id, user.autodeskId), { guest: false }), 200);
    const mails = (await accessMails(user.autodeskId)).slice(before);
    expect(mails).toHaveLength(2);
    expect(mails[1].text).toContain('You may now use:\n  - AutoCAD\n  - Revit\n');
    expect((await trailOf(t.admin.api, t.id)).map((e: any) => e.after.guest)).toEqual([false, true]);
  });

  it('R14: the same value again answers the member and writes nothing: no entry, no e-mail, the access epoch unmoved', async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'], guest: true });
    const mails = (await accessMails(user.autodeskId)).length;
    const at = await epoch();
    const same = expectStatus(await t.admin.api.put(guestPath(t.id, user.autodeskId), { guest: true }), 200);
    expect(same).toMatchObject({ autodeskId: user.autodeskId, guest: true, products: ['autocad'] });
    expect(await epoch()).toBe(at);
    expect(await trailOf(t.admin.api, t.id)).toEqual([]);
    expect(await accessMails(user.autodeskId)).toHaveLength(mails);
  });

  it('R14: a change that leaves the products a member may use as they were is audited but e-mails nobody', async () => {
    // No defaults; "all products"; every default selected already: guest or not, the same products.
    const none = await team([]);
    const all = await team(['revit']);
    const covered = await team(['revit']);
    const cases = [
      { t: none, user: await member(none.id, { products: ['autocad'] }) },
      { t: all, user: await member(all.id, { allProducts: true }) },
      { t: covered, user: await member(covered.id, { products: ['revit'] }) },
    ];
    for (const { t, user } of cases) {
      const mails = (await accessMails(user.autodeskId)).length;
      expect(expectStatus(await t.admin.api.put(guestPath(t.id, user.autodeskId), { guest: true }), 200).guest).toBe(true);
      expect(await accessMails(user.autodeskId), user.autodeskId).toHaveLength(mails);
      expect(await trailOf(t.admin.api, t.id)).toHaveLength(1);
    }
  });

  it('R11/R14: a pending member is made a guest without an e-mail, and joins as one when they accept', async () => {
    const t = await team(['revit']);
    const email = uniqueEmail('pending-guest');
    expectStatus(await t.admin.api.post(`/v1/teams/${t.id}/members`, { invite: `Pen Ding <${email}>`, products: ['autocad'] }), 201);
    const made = expectStatus(await t.admin.api.put(guestPath(t.id, email), { guest: true }), 200);
    expect(made).toMatchObject({ guest: true, status: 'invited', invitation: { id: expect.any(String) } });
    expect((await mailsTo(a, email)).map((m) => m.kind)).toEqual(['invitation']);
    expect(await trailOf(t.admin.api, t.id)).toMatchObject([{ target: email, before: { guest: false }, after: { guest: true } }]);
    // Accepted, they join as the guest they were made: their own products, no defaults.
    const [invitation] = await mailsTo(a, email);
    const password = 'a-good-password';
    expectStatus(await a.anon.post('/v1/invitations/accept', { token: tokenOf(invitation.text), password }), 200);
    const user = await signIn(a, { autodeskId: email, password });
    expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    const refused = await user.api.post('/v1/launch', { product: 'revit' });
    expect([refused.status, refused.body.rule]).toEqual([403, 'R13']);
  });

  it('R13: 8 requests at once making one member a guest write one change, one entry and one e-mail', async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'] });
    const mails = (await accessMails(user.autodeskId)).length;
    const answers = await simultaneously(
      Array.from({ length: 8 }, () => ({ api: t.admin.api, method: 'PUT', path: guestPath(t.id, user.autodeskId), body: { guest: true } })),
    );
    expect(answers.map((x) => [x.status, x.body.guest])).toEqual(Array(8).fill([200, true]));
    expect(await trailOf(t.admin.api, t.id)).toHaveLength(1);
    expect(await accessMails(user.autodeskId)).toHaveLength(mails + 1);
  });

  it("R13: only that member of that team changes: the person's other team and the team's other member keep theirs", async () => {
    const t = await team(['revit']);
    const other = await team(['revit']);
    const account = await newAccount(a, 'two-teams');
    await joinTeam(a, t.id, account, { products: ['autocad'] });
    await joinTeam(a, other.id, account, { products: ['autocad'] });
    const neighbour = await member(t.id, { products: ['autocad'] });
    expectStatus(await t.admin.api.put(guestPath(t.id, account.autodeskId), { guest: true }), 200);
    const guestOf = async (teamId: string, who: string) =>
      expectStatus(await a.op.get(`/v1/teams/${teamId}/members`), 200).find((m: any) => m.autodeskId === who)?.guest;
    expect(await guestOf(t.id, account.autodeskId)).toBe(true);
    expect(await guestOf(other.id, account.autodeskId)).toBe(false);
    expect(await guestOf(t.id, neighbour.autodeskId)).toBe(false);
    const user = await signIn(a, account);
    expectStatus(await user.api.post('/v1/launch', { product: 'revit', team: other.id }), 200);
    const refused = await user.api.post('/v1/launch', { product: 'revit', team: t.id });
    expect([refused.status, refused.body.rule]).toEqual([403, 'R13']);
  });
});

describe('bad requests change nothing', () => {
  it('a bad body is a 400, a missing member or team a 404, another team a 403, each as problem+json; nothing is written', async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'] });
    const path = guestPath(t.id, user.autodeskId);
    const outsider = await newAdmin(a, [await newTeam(a)]);
    const at = await epoch();
    const cases: [string, Promise<{ status: number; headers: { get(n: string): string | null }; body: any }>, number][] = [
      ['no field', t.admin.api.put(path, {}), 400],
      ['a string', t.admin.api.put(path, { guest: 'true' }), 400],
      ['null', t.admin.api.put(path, { guest: null }), 400],
      ['an unknown field', t.admin.api.put(path, { guest: true, products: [] }), 400],
      ['not JSON', t.admin.api.request('PUT', path, '{guest: true', { 'content-type': 'application/json' }), 400],
      ['a JSON array', t.admin.api.put(path, [true]), 400],
      ['not an Autodesk ID', t.admin.api.put(guestPath(t.id, 'not-an-email'), { guest: true }), 400],
      ['text/plain', t.admin.api.request('PUT', path, '{"guest":true}', { 'content-type': 'text/plain' }), 415],
      ['no credential', a.anon.put(path, { guest: true }), 401],
      ["the member's own ID token", user.api.put(path, { guest: true }), 403],
      ["another team's admin", outsider.api.put(path, { guest: true }), 403],
      ['not a member', t.admin.api.put(guestPath(t.id, uniqueEmail('nobody')), { guest: true }), 404],
      ['no such team', a.op.put(guestPath('tm_no-such-team', user.autodeskId), { guest: true }), 404],
    ];
    for (const [what, answer, status] of cases) {
      const res = await answer;
      expect([what, res.status]).toEqual([what, status]);
      expect(res.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
      expect(res.body.status, what).toBe(status);
    }
    expect(await epoch()).toBe(at);
    expect(await trailOf(t.admin.api, t.id)).toEqual([]);
    const [listed] = expectStatus(await t.admin.api.get(`/v1/teams/${t.id}/members`), 200);
    expect(listed).toMatchObject({ autodeskId: user.autodeskId, guest: false });
  });
});

describe("the console's form (the member page)", () => {
  it('posts the status it asks for: sent twice it changes once; without its CSRF token, with another value or for no member, nothing', async () => {
    const t = await team(['revit']);
    const user = await member(t.id, { products: ['autocad'] });
    const browser = await consoleSignIn(a, t.admin.api.token as string);
    const form = `/console/teams/${t.id}/members/${encodeURIComponent(user.autodeskId)}/guest`;
    const mails = (await accessMails(user.autodeskId)).length;
    const refused = [
      await browser.post(form, { _csrf: 'x'.repeat(32), guest: 'true' }),
      await browser.post(form, { guest: 'yes' }),
      await browser.post(form, {}),
      await browser.post(`/console/teams/${t.id}/members/${encodeURIComponent(uniqueEmail('nobody'))}/guest`, { guest: 'true' }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 400, 400, 404]);
    expect(await trailOf(t.admin.api, t.id)).toEqual([]);

    for (let i = 0; i < 2; i++) {
      const sent = await browser.post(form, { guest: 'true' });
      expect([sent.status, sent.location]).toEqual([303, expect.stringMatching(/\?done=guest&who=/)]);
    }
    expect(await trailOf(t.admin.api, t.id)).toMatchObject([{ actor: `console:${t.admin.id}`, after: { guest: true } }]);
    expect(await accessMails(user.autodeskId)).toHaveLength(mails + 1);
  });
});
