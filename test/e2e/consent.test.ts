/**
 * R11 with consent: an existing account is asked, not added; the invitation e-mail links to a page
 * on the gateway's public address; and a team's admin learns, through explain (R18), only what
 * their own team grants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf, uniqueEmail } from '../harness/admin';
import { acceptInvitationOf, joinTeam, newAccount, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

const invitationsTo = async (to: string) => (await mailsTo(gw, to)).filter((m) => m.kind === 'invitation');

describe('adding an existing account asks that person (R11)', () => {
  it('R11: until they accept they are not a member: no launch through that team, and it does not count among their teams', async () => {
    const home = await newTeam(gw, 100);
    const asking = await newTeam(gw, 100);
    const admin = await newAdmin(gw, [asking]);
    const account = await newAccount(gw);
    await joinTeam(gw, home, account, { products: ['autocad'] });
    const user = await signIn(gw, account);

    const asked = expectStatus(
      await admin.api.post(`/v1/teams/${asking}/members`, { autodeskId: account.autodeskId, allProducts: true }),
      201,
    );
    expect(asked.member).toMatchObject({ status: 'invited', autodeskId: account.autodeskId });
    const mail = (await invitationsTo(account.autodeskId)).at(-1);
    expect(mail.text).toMatch(/sign in with your Autodesk ID/);

    // R9: without a team named, the pending invitation is not a team to choose between.
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ granted: true, team: home });
    const through = await user.api.post('/v1/launch', { product: 'revit', team: asking });
    expect(through.status).toBe(403);
    expect(through.body).toMatchObject({ code: 'invitation-pending', rule: 'R11' });
    expect(expectStatus(await gw.op.get(`/v1/teams/${asking}/balance`), 200).balance).toBe(100);

    // The wrong password accepts nothing: the invitation cannot take the account over.
    const wrong = await gw.anon.post('/v1/invitations/accept', { token: tokenOf(mail.text), password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(expectStatus(await admin.api.get(`/v1/teams/${asking}/members`), 200)).toMatchObject([{ status: 'invited' }]);

    await acceptInvitationOf(gw, account);
    expect(expectStatus(await admin.api.get(`/v1/teams/${asking}/members`), 200)).toMatchObject([{ status: 'active' }]);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'revit', team: asking }), 200)).toMatchObject({ team: asking });
    // Now a member of two teams, a launch must say which.
    const several = await user.api.post('/v1/launch', { product: 'maya' });
    expect(several.status).toBe(400);
    expect(several.body.code).toBe('invalid-request');
  });

  it('R11: an admin does not see the licences of a person who has not accepted yet, nor after', async () => {
    const team = await newTeam(gw, 100);
    const admin = await newAdmin(gw, [team]);
    const account = await newAccount(gw);
    expectStatus(
      await gw.op.post('/v1/trials', { autodeskId: account.autodeskId, product: 'autocad', endsAt: '2027-06-01T00:00:00Z' }),
      201,
    );
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['autocad'] }), 201);
    const pending = expectStatus(await admin.api.get(`/v1/teams/${team}/members/${account.autodeskId}/access`), 200);
    expect(pending.every((a: any) => !a.granted && a.code === 'invitation-pending')).toBe(true);
    expect(JSON.stringify(pending)).not.toMatch(/trial|2027-06-01/i);
  });
});

describe('the invitation e-mail', () => {
  it('R11: links to the accept page on the public address, with a date a person reads, and no API instructions', async () => {
    const team = await newTeam(gw);
    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('linked');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Lin Ked <${email}>` }), 201);
    const [mail] = await invitationsTo(email);
    const link = /^Link: (\S+)$/m.exec(mail.text)?.[1] as string;
    expect(link.startsWith(`${gw.url}/console/invitations/accept?token=`)).toBe(true);
    expect(mail.text).toContain('Sunday 22 March 2026 at 10:00 UTC');
    expect(mail.text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    expect(mail.text).not.toMatch(/POST|\/v1\//);
    expect(mail.text).toMatch(/choose a password/);

    // The page the link opens: the token is good, and nothing it shows names the API.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('Lin Ked');
    expect(html).toContain('Sunday 22 March 2026 at 10:00 UTC');
  });

  it('takes its links from FLEXGATE_PUBLIC_URL when set', async () => {
    const other = await startTestGateway({ publicUrl: 'https://flex.example.com/gateway' });
    try {
      await seedCatalog(other);
      const team = expectStatus(await other.op.post('/v1/teams', { name: 'Public' }), 201).id;
      const email = uniqueEmail('public');
      expectStatus(await other.op.post(`/v1/teams/${team}/members`, { invite: `Pub Lic <${email}>` }), 201);
      const [mail] = (await mailsTo(other, email)).filter((m) => m.kind === 'invitation');
      expect(mail.text).toMatch(/^Link: https:\/\/flex\.example\.com\/gateway\/console\/invitations\/accept\?token=\S+$/m);
    } finally {
      await other.close();
    }
  });

  it('an expired invitation page says so with a human date and offers no form', async () => {
    const team = await newTeam(gw);
    const email = uniqueEmail('late');
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { invite: `Late Comer <${email}>` }), 201);
    const [mail] = await invitationsTo(email);
    await setClock(gw, new Date(T0.getTime() + 8 * DAY));
    try {
      const page = await fetch(/^Link: (\S+)$/m.exec(mail.text)?.[1] as string);
      expect(page.status).toBe(409);
      const html = await page.text();
      expect(html).toContain('expired on Sunday 22 March 2026 at 10:00 UTC');
      expect(html).not.toContain('<form method="post" action="/console/invitations/accept"');
    } finally {
      await setClock(gw, T0);
    }
  });
});

describe('explain says only what this team grants (R18)', () => {
  it("R18: no licence or membership held elsewhere; 'from elsewhere' only where it overrides this team's grant", async () => {
    const team = await newTeam(gw, 100);
    const elsewhere = expectStatus(await gw.op.post('/v1/teams', { name: 'Elsewhere Studio' }), 201).id as string;
    const admin = await newAdmin(gw, [team]);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad'] });
    await joinTeam(gw, elsewhere, account, { products: ['maya'] });
    expectStatus(
      await gw.op.post('/v1/trials', { autodeskId: account.autodeskId, product: 'autocad', endsAt: '2027-06-01T00:00:00Z' }),
      201,
    );
    expectStatus(
      await gw.op.post('/v1/subscriptions', { autodeskId: account.autodeskId, product: 'revit', endsAt: '2027-06-01T00:00:00Z' }),
      201,
    );

    const answer = expectStatus(await admin.api.get(`/v1/teams/${team}/members/${account.autodeskId}/access`), 200);
    const by = new Map(answer.map((a: any) => [a.product, a]));
    // AutoCAD: this team grants it, and a trial elsewhere takes precedence: said, without details.
    expect(by.get('autocad')).toMatchObject({ granted: true, source: 'elsewhere' });
    expect((by.get('autocad') as any).reason).toMatch(/from elsewhere/);
    // Revit (a subscription) and Maya (another team): this team grants neither, so its own refusal.
    expect(by.get('revit')).toMatchObject({ granted: false, source: null, code: 'no-access' });
    expect(by.get('maya')).toMatchObject({ granted: false, source: null, code: 'no-access' });
    const text = JSON.stringify(answer);
    for (const secret of [/trial/i, /subscription/i, /2027-06-01/, /Elsewhere Studio/, new RegExp(elsewhere)])
      expect(text).not.toMatch(secret);

    // The launch itself still uses the trial: the scoping is what the admin reads, not what the person gets.
    const user = await signIn(gw, account);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad', team }), 200).source).toBe('trial');
  });

  it("R18, R7: a session paid by another team changes nothing this team's admin reads; one this team paid for counts", async () => {
    // Team C cannot pay a day of Revit (10); team B can, and the person uses it through B.
    const teamC = await newTeam(gw, 5);
    const teamB = await newTeam(gw, 100);
    const admin = await newAdmin(gw, [teamC]);
    const account = await newAccount(gw);
    await joinTeam(gw, teamC, account, { products: ['revit'] });
    await joinTeam(gw, teamB, account, { allProducts: true });
    const explain = async () => expectStatus(await admin.api.get(`/v1/teams/${teamC}/members/${account.autodeskId}/access`), 200);
    const before = await explain();
    expect(before.find((a: any) => a.product === 'revit')).toMatchObject({ granted: false, code: 'insufficient-tokens', rule: 'R4' });

    const user = await signIn(gw, account);
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'revit', team: teamB }), 200)).toMatchObject({
      team: teamB,
      charged: 10,
    });
    // Word for word what it said before: nothing tells C's admin that Revit is in use through another team.
    expect(await explain()).toEqual(before);

    // A session this team paid for is this team's own fact: its relaunch charges nothing, so R4 does not refuse it.
    const own = await newTeam(gw, 15);
    const ownAdmin = await newAdmin(gw, [own]);
    await joinTeam(gw, own, account, { products: ['maya'] });
    expectStatus(await user.api.post('/v1/launch', { product: 'maya', team: own }), 200);
    const after = expectStatus(await ownAdmin.api.get(`/v1/teams/${own}/members/${account.autodeskId}/access`), 200);
    expect(after.find((a: any) => a.product === 'maya')).toMatchObject({ granted: true, source: 'flex' });
  });
});
