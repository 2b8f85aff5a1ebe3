import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allMembers, mailsTo, newAdmin, postCsv, tokenOf, uniqueEmail } from '../harness/admin';
import { acceptInvitationOf, buy, joinTeam, newAccount, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus, simultaneously } from '../harness/http';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
const at = (ms: number) => new Date(T0.getTime() + ms);
/** The test clock runs at real speed after a jump: instants it stamps are a few ms past the jump. */
const expectNear = (iso: string, expected: Date) => {
  const ms = Date.parse(iso) - expected.getTime();
  expect(ms, `${iso} vs ${expected.toISOString()}`).toBeGreaterThanOrEqual(0);
  expect(ms).toBeLessThan(10_000);
};

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());
afterEach(async () => setClock(gw, T0));

async function teamWithAdmin(tokens = 200) {
  const team = await newTeam(gw, tokens);
  const admin = await newAdmin(gw, [team]);
  return { team, admin: admin.api };
}

async function newProduct(rate = 5) {
  const key = `new-${Math.random().toString(36).slice(2, 8)}`;
  expectStatus(await gw.op.post('/v1/products', { key, name: `New ${key}`, dailyRate: rate }), 201);
  return key;
}

describe('members and invitations (R11)', () => {
  it('R11: an invitation expires after 7 days; a resend gives a new token and 7 new days, and the old token is dead', async () => {
    const { team, admin } = await teamWithAdmin();
    const email = uniqueEmail('ada');
    const invited = expectStatus(
      await admin.post(`/v1/teams/${team}/members`, { invite: `Ada Lovelace <${email.toUpperCase()}>`, products: ['autocad'] }),
      201,
    );
    expect(invited.member).toMatchObject({ autodeskId: email, name: 'Ada Lovelace', status: 'invited', products: ['autocad'] });
    expectNear(invited.invitation.expiresAt, at(7 * DAY));
    const expiry = Date.parse(invited.invitation.expiresAt);
    // Invited again by mistake: refused, pointing to the resend.
    const twice = await admin.post(`/v1/teams/${team}/members`, { invite: `Ada Lovelace <${email}>` });
    expect([twice.status, twice.body.detail]).toEqual([409, expect.stringMatching(/already invited to this team; resend the invitation/)]);
    const [mail] = await mailsTo(gw, email);
    expect(mail).toMatchObject({ kind: 'invitation', sentAt: null });
    const oldToken = tokenOf(mail.text);

    await setClock(gw, new Date(expiry - 5000));
    const list1 = expectStatus(await admin.get(`/v1/teams/${team}/members`), 200);
    expect(list1.find((m: any) => m.autodeskId === email).status).toBe('invited');

    await setClock(gw, new Date(expiry + 1));
    const list2 = expectStatus(await admin.get(`/v1/teams/${team}/members`), 200);
    expect(list2.find((m: any) => m.autodeskId === email)).toMatchObject({ status: 'expired', invitation: { id: invited.invitation.id } });
    const late = await gw.anon.post('/v1/invitations/accept', { token: oldToken, password: 'a-good-password' });
    expect(late.status).toBe(409);
    expect(late.body.detail).toMatch(/expired/);

    const resent = expectStatus(await admin.post(`/v1/teams/${team}/invitations/${invited.invitation.id}/resend`), 200);
    expect(resent.id).not.toBe(invited.invitation.id);
    expectNear(resent.expiresAt, new Date(expiry + 7 * DAY));
    const mails = await mailsTo(gw, email);
    expect(mails.map((m) => m.kind)).toEqual(['invitation', 'invitation']);
    const newToken = tokenOf(mails[1].text);
    expect(newToken).not.toBe(oldToken);

    expect((await gw.anon.post('/v1/invitations/accept', { token: oldToken, password: 'a-good-password' })).status).toBe(404);
    const accepted = expectStatus(await gw.anon.post('/v1/invitations/accept', { token: newToken, password: 'a-good-password' }), 200);
    expect(accepted).toMatchObject({ autodeskId: email, team, status: 'active', accountCreated: true });
    expect((await gw.anon.post('/v1/invitations/accept', { token: newToken, password: 'a-good-password' })).status).toBe(409);

    const list3 = expectStatus(await admin.get(`/v1/teams/${team}/members`), 200);
    expect(list3.find((m: any) => m.autodeskId === email)).toMatchObject({ status: 'active', name: 'Ada Lovelace' });
    const user = await signIn(gw, { autodeskId: email, password: 'a-good-password' });
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ source: 'flex', charged: 7 });
  });

  it('R11: inviting someone twice answers with their state in this team, not in another of their teams', async () => {
    const a = await newTeam(gw);
    const b = await newTeam(gw);
    const admin = (await newAdmin(gw, [a, b])).api;
    // B's first member is active, whichever way its rows are read (by status, by insertion).
    await joinTeam(gw, b, await newAccount(gw));
    // Active in A first, then invited to B twice: the second is told to resend B's invitation.
    const active = await newAccount(gw);
    await joinTeam(gw, a, active);
    expectStatus(await admin.post(`/v1/teams/${b}/members`, { invite: `Ann Active <${active.autodeskId}>` }), 201);
    const again = await admin.post(`/v1/teams/${b}/members`, { invite: `Ann Active <${active.autodeskId}>` });
    expect([again.status, again.body.detail]).toEqual([409, expect.stringMatching(/already invited to this team; resend/)]);
    // Still only invited to A, active in B: inviting to B again says they are already a member.
    const pending = await newAccount(gw);
    expectStatus(await admin.post(`/v1/teams/${a}/members`, { invite: `Bo Pending <${pending.autodeskId}>` }), 201);
    await joinTeam(gw, b, pending);
    const twice = await admin.post(`/v1/teams/${b}/members`, { invite: `Bo Pending <${pending.autodeskId}>` });
    expect([twice.status, twice.body.detail]).toEqual([409, `${pending.autodeskId} is already a member of this team.`]);
  });

  it("R11: a person invited to two teams: each team's admin sees that team's invitation, never the other's", async () => {
    const b = await teamWithAdmin();
    const a = await teamWithAdmin();
    const email = uniqueEmail('twice');
    const toB = expectStatus(await b.admin.post(`/v1/teams/${b.team}/members`, { invite: `Tess Twice <${email}>` }), 201).invitation;
    // A minute later, so that A's invitation is the newer one whichever way the rows are read.
    await setClock(gw, at(60_000));
    const toA = expectStatus(await a.admin.post(`/v1/teams/${a.team}/members`, { invite: `Tess Twice <${email}>` }), 201).invitation;
    expect(toA.id).not.toBe(toB.id);
    const fromA = (await mailsTo(gw, email)).filter((m) => m.kind === 'invitation')[1];
    const listed = expectStatus(await b.admin.get(`/v1/teams/${b.team}/members`), 200).find((m: any) => m.autodeskId === email);
    expect(listed.invitation).toEqual(toB);
    const changed = expectStatus(
      await b.admin.put(`/v1/teams/${b.team}/members/${encodeURIComponent(email)}/products`, { products: ['autocad'] }),
      200,
    );
    expect(changed.invitation).toEqual(toB);
    const inA = expectStatus(await a.admin.get(`/v1/teams/${a.team}/members`), 200).find((m: any) => m.autodeskId === email);
    expect(inA.invitation).toEqual(toA);
    // B's invitation named in A's path: the 404 of any unknown id (it names no one), and no e-mail.
    const borrowed = await a.admin.post(`/v1/teams/${a.team}/invitations/${toB.id}/resend`);
    expect(borrowed.status).toBe(404);
    expect(borrowed.body.detail).toBe(`No invitation ${toB.id} in this team.`);
    expect((await mailsTo(gw, email)).filter((m) => m.kind === 'invitation')).toHaveLength(2);
    // Someone else invited to B later: Tess's answer still carries her own invitation.
    const nick = uniqueEmail('newer');
    expectStatus(await b.admin.post(`/v1/teams/${b.team}/members`, { invite: `Nick Newer <${nick}>` }), 201);
    const mine = await b.admin.put(`/v1/teams/${b.team}/members/${encodeURIComponent(email)}/products`, { products: ['revit'] });
    expect(expectStatus(mine, 200).invitation).toEqual(toB);
    // B resends, then removes her: the token A sent her still lets her join A.
    expectStatus(await b.admin.post(`/v1/teams/${b.team}/invitations/${toB.id}/resend`), 200);
    expect((await b.admin.delete(`/v1/teams/${b.team}/members/${encodeURIComponent(email)}`)).status).toBe(204);
    const joined = await gw.anon.post('/v1/invitations/accept', { token: tokenOf(fromA.text), password: 'tess-password' });
    expect(expectStatus(joined, 200)).toMatchObject({ team: a.team, status: 'active' });
    // Nor did Tess's resend and removal touch Nick's invitation to B.
    const [toNick] = await mailsTo(gw, nick);
    const nickJoined = await gw.anon.post('/v1/invitations/accept', { token: tokenOf(toNick.text), password: 'nick-password' });
    expect(expectStatus(nickJoined, 200)).toMatchObject({ team: b.team, status: 'active' });
  });

  it("R11-R13: what is done to a person's membership in one team leaves their other teams as they were", async () => {
    const [a, b, c] = [await newTeam(gw), await newTeam(gw), await newTeam(gw)];
    const op = gw.op;
    const p = await newAccount(gw);
    const id = encodeURIComponent(p.autodeskId);
    const memberIn = async (team: string) => (await allMembers(op, team)).find((m) => m.autodeskId === p.autodeskId);
    const selection = (m: any) => m && { status: m.status, allProducts: m.allProducts, products: m.products };
    const defaultsOf = async (team: string) => expectStatus(await op.get(`/v1/teams/${team}/defaults`), 200).products;
    await joinTeam(gw, a, p, { products: ['autocad'] });
    expectStatus(await op.post(`/v1/teams/${b}/members`, { autodeskId: p.autodeskId, products: ['revit'] }), 201);
    expectStatus(await op.post(`/v1/teams/${c}/members`, { autodeskId: p.autodeskId, products: ['maya'] }), 201);
    expectStatus(await op.put(`/v1/teams/${a}/defaults`, { products: ['revit'] }), 200);
    expectStatus(await op.put(`/v1/teams/${b}/defaults`, { products: ['maya'] }), 200);
    // Accepting C's invitation (the latest mailed) makes C active, not B.
    await acceptInvitationOf(gw, p);
    const expected = {
      a: { status: 'active', allProducts: false, products: ['autocad'] },
      b: { status: 'invited', allProducts: false, products: ['revit'] },
      c: { status: 'active', allProducts: false, products: ['maya'] },
    };
    const expectTeams = async () =>
      expect({ a: selection(await memberIn(a)), b: selection(await memberIn(b)), c: selection(await memberIn(c)) }).toEqual(expected);
    await expectTeams();

    expectStatus(await op.put(`/v1/teams/${b}/members/${id}/products`, { allProducts: true }), 200);
    expected.b = { status: 'invited', allProducts: true, products: [] };
    await expectTeams();
    expectStatus(await op.put(`/v1/teams/${a}/members/${id}/products`, { products: ['3ds-max', 'autocad'] }), 200);
    expected.a.products = ['3ds-max', 'autocad'];
    await expectTeams();
    const csv = `name,email,products\nP,${p.autodeskId},civil-3d\n`;
    expect(expectStatus(await postCsv(op, `/v1/teams/${c}/members/import`, csv), 200)).toMatchObject({ updated: 1, errors: [] });
    expected.c.products = ['civil-3d'];
    await expectTeams();
    expectStatus(await op.put(`/v1/teams/${b}/defaults`, { products: ['civil-3d'] }), 200);
    expect([await defaultsOf(a), await defaultsOf(b)]).toEqual([['revit'], ['civil-3d']]);
    expect((await op.delete(`/v1/teams/${b}/members/${id}`)).status).toBe(204);
    expect([selection(await memberIn(a)), await memberIn(b), selection(await memberIn(c))]).toEqual([expected.a, undefined, expected.c]);
    // Imported into B again: new there, so invited there (asked, R11), whatever they are elsewhere.
    const again = `name,email,products\nP,${p.autodeskId},revit\n`;
    expect(expectStatus(await postCsv(op, `/v1/teams/${b}/members/import`, again), 200)).toEqual({ created: 1, updated: 0, errors: [] });
    expect(selection(await memberIn(b))).toEqual({ status: 'invited', allProducts: false, products: ['revit'] });
  });

  it("R11, R12: what is done to one member leaves the team's other members as they were", async () => {
    const team = await newTeam(gw);
    const [p, q] = [await newAccount(gw), await newAccount(gw)];
    await joinTeam(gw, team, p, { products: ['autocad'] });
    await joinTeam(gw, team, q, { products: ['maya'] });
    const qAsIs = { autodeskId: q.autodeskId, status: 'active', allProducts: false, products: ['maya'] };
    const others = async () =>
      (await allMembers(gw.op, team))
        .filter((m) => m.autodeskId !== p.autodeskId)
        .map((m) => ({ autodeskId: m.autodeskId, status: m.status, allProducts: m.allProducts, products: m.products }));
    expectStatus(await gw.op.put(`/v1/teams/${team}/members/${encodeURIComponent(p.autodeskId)}/products`, { allProducts: true }), 200);
    expect(await others()).toEqual([qAsIs]);
    expect((await gw.op.delete(`/v1/teams/${team}/members/${encodeURIComponent(p.autodeskId)}`)).status).toBe(204);
    expect(await allMembers(gw.op, team)).toHaveLength(1);
    expect(await others()).toEqual([qAsIs]);
  });

  it("R11: a pending invitee cannot launch (invitation-pending), nor an expired one; accepting with the existing account's password makes it active", async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw, 'existing');
    const user = await signIn(gw, account);
    expectStatus(
      await admin.post(`/v1/teams/${team}/members`, { invite: `Existing Person <${account.autodeskId}>`, allProducts: true }),
      201,
    );

    const pending = await user.api.post('/v1/launch', { product: 'revit' });
    expect(pending.status).toBe(403);
    expect(pending.body).toMatchObject({ code: 'invitation-pending', rule: 'R11' });
    expect(pending.body.detail).toMatch(/not yet accepted/);

    await setClock(gw, at(8 * DAY));
    const again = await signIn(gw, account);
    const expired = await again.api.post('/v1/launch', { product: 'revit' });
    expect(expired.status).toBe(403);
    expect(expired.body).toMatchObject({ code: 'invitation-pending', rule: 'R11' });
    expect(expired.body.detail).toMatch(/expired/);

    const [mail] = await mailsTo(gw, account.autodeskId);
    const inv = expectStatus(await admin.get(`/v1/teams/${team}/members`), 200).find(
      (m: any) => m.autodeskId === account.autodeskId,
    ).invitation;
    expectStatus(await admin.post(`/v1/teams/${team}/invitations/${inv.id}/resend`), 200);
    const token = tokenOf((await mailsTo(gw, account.autodeskId))[1].text);
    expect(token).not.toBe(tokenOf(mail.text));
    expect((await gw.anon.post('/v1/invitations/accept', { token, password: 'not-the-password' })).status).toBe(401);
    const ok = expectStatus(await gw.anon.post('/v1/invitations/accept', { token, password: account.password }), 200);
    expect(ok.accountCreated).toBe(false);
    expect(expectStatus(await again.api.post('/v1/launch', { product: 'revit' }), 200)).toMatchObject({ source: 'flex', charged: 10 });
  });

  it('R11: one invitation accepted by 8 requests at once (a double click, a retry): one is accepted, the rest are a 409, one audit entry', async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw, 'clicker');
    expectStatus(
      await admin.post(`/v1/teams/${team}/members`, { invite: `Clicking Person <${account.autodeskId}>`, allProducts: true }),
      201,
    );
    const [mail] = await mailsTo(gw, account.autodeskId);
    const body = { token: tokenOf(mail.text), password: account.password };
    const answers = await simultaneously(
      Array.from({ length: 8 }, () => ({ api: gw.anon, method: 'POST', path: '/v1/invitations/accept', body })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    const trail = expectStatus(await admin.get(`/v1/teams/${team}/audit?action=invitation.accepted`), 200);
    expect(trail.map((e: any) => e.target)).toEqual([account.autodeskId]);
  });

  it('R12/R14: one product change saved 8 times at once (a double click) e-mails the member once', async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw, 'saved');
    await joinTeam(gw, team, account, { products: ['maya'] }, admin);
    const mails = async () => (await mailsTo(gw, account.autodeskId)).filter((m) => m.kind === 'access');
    const before = (await mails()).length;
    const path = `/v1/teams/${team}/members/${encodeURIComponent(account.autodeskId)}/products`;
    const answers = await simultaneously(
      Array.from({ length: 8 }, () => ({ api: admin, method: 'PUT', path, body: { products: ['autocad'] } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect((await mails()).length - before).toBe(1);
    const trail = expectStatus(await admin.get(`/v1/teams/${team}/audit?action=member.products.changed`), 200);
    // Every save is in the trail; only the first saw the old selection.
    expect(trail.filter((e: any) => e.before.products.includes('maya'))).toHaveLength(1);
  });

  it('R14: product changes made over and over e-mail one address at most 5 times a day, whichever teams make them; each change is saved', async () => {
    const first = await teamWithAdmin();
    const second = await teamWithAdmin();
    const account = await newAccount(gw, 'often');
    await joinTeam(gw, first.team, account, { products: ['maya'] }, first.admin);
    await joinTeam(gw, second.team, account, { products: ['maya'] }, second.admin);
    const mails = async () => (await mailsTo(gw, account.autodeskId)).filter((m) => m.kind === 'access');
    const path = (team: string) => `/v1/teams/${team}/members/${encodeURIComponent(account.autodeskId)}/products`;
    const selections = [['autocad'], ['maya'], ['revit'], ['autocad', 'maya']];
    for (let i = 0; i < 8; i++) {
      const { team, admin } = i % 2 === 0 ? first : second;
      const products = selections[i % selections.length] as string[];
      expect(expectStatus(await admin.put(path(team), { products }), 200).products).toEqual(products);
    }
    expect(await mails()).toHaveLength(5);
    // Saved all the same: the member's products are the last selection of each team.
    expect((await allMembers(second.admin, second.team)).find((m) => m.autodeskId === account.autodeskId)?.products).toEqual([
      'autocad',
      'maya',
    ]);
    // A day after the first of them, the next change e-mails again.
    await setClock(gw, at(DAY + 60_000));
    expectStatus(await first.admin.put(path(first.team), { products: ['autocad', 'revit'] }), 200);
    expect(await mails()).toHaveLength(6);
  });

  it('R14: six teams changing one person’s products at the same moment send the one e-mail left under the cap, not six', async () => {
    const teams = await Promise.all(Array.from({ length: 6 }, () => teamWithAdmin()));
    const account = await newAccount(gw, 'atonce');
    // Three invitations a day to one address (R11): three teams today, three more a day later.
    for (const [i, { team, admin }] of teams.entries()) {
      if (i === 3) await setClock(gw, at(DAY + 60_000));
      await joinTeam(gw, team, account, { products: ['maya'] }, admin);
    }
    const mails = async () => (await mailsTo(gw, account.autodeskId)).filter((m) => m.kind === 'access');
    const path = (team: string) => `/v1/teams/${team}/members/${encodeURIComponent(account.autodeskId)}/products`;
    const [one] = teams as [(typeof teams)[number]];
    for (const products of [['autocad'], ['maya'], ['revit'], ['autocad', 'maya']])
      expectStatus(await one.admin.put(path(one.team), { products }), 200);
    expect(await mails()).toHaveLength(4);
    const answers = await Promise.all(teams.map(({ team, admin }) => admin.put(path(team), { products: ['autocad', 'revit'] })));
    for (const a of answers) expectStatus(a, 200);
    expect(await mails()).toHaveLength(5);
  });

  it('R11: an invitation resent 8 times at once: the e-mails sent carry one live token, the others are refused', async () => {
    const { team, admin } = await teamWithAdmin();
    const email = uniqueEmail('resent');
    const added = expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `Re Sent <${email}>` }), 201);
    const path = `/v1/teams/${team}/invitations/${added.invitation.id}/resend`;
    const answers = await simultaneously(Array.from({ length: 8 }, () => ({ api: admin, method: 'POST', path })));
    // R14: three invitation e-mails a day, the first included.
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429, 429, 429, 429, 429, 429]);
    const tokens = (await mailsTo(gw, email)).filter((m) => m.kind === 'invitation').map((m) => tokenOf(m.text));
    expect(tokens).toHaveLength(3);
    const accepts = [];
    for (const token of tokens) accepts.push((await gw.anon.post('/v1/invitations/accept', { token, password: 'a-good-password' })).status);
    expect(accepts).toEqual([404, 404, 200]);
  });

  it('R12: a product change and the removal of one member, sent together: the change lands before the removal or is a 404, never a 500', async () => {
    const { team, admin } = await teamWithAdmin();
    for (let round = 0; round < 10; round++) {
      const account = await newAccount(gw, 'removed');
      await joinTeam(gw, team, account, { products: ['maya'] }, admin);
      const path = `/v1/teams/${team}/members/${encodeURIComponent(account.autodeskId)}`;
      const [put, del] = await simultaneously([
        { api: admin, method: 'PUT', path: `${path}/products`, body: { products: ['autocad', 'revit'] } },
        { api: admin, method: 'DELETE', path },
      ]);
      expect(del?.status, del?.text).toBe(204);
      expect([200, 404], put?.text).toContain(put?.status);
      // Added again, the person starts from what this request gives, not from what the race left.
      expectStatus(await admin.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId }), 201);
      expect((await allMembers(admin, team)).find((m) => m.autodeskId === account.autodeskId)?.products).toEqual([]);
    }
  });

  it('R11: an invitation not written "Full Name <email>" is refused with a clear message', async () => {
    const { team, admin } = await teamWithAdmin();
    for (const invite of ['john@example.com', 'John Doe', 'John Doe <john@>', '<john@example.com>']) {
      const r = await admin.post(`/v1/teams/${team}/members`, { invite });
      expect(r.status, invite).toBe(400);
      expect(r.body.code).toBe('invalid-request');
      expect(r.body.detail).toMatch(/Full Name <email>|not an e-mail|name is missing/);
    }
    expect(expectStatus(await admin.get(`/v1/teams/${team}/members`), 200)).toEqual([]);
  });

  it('R11: one address is one person, whatever its case or however its accents were typed (composed, or a letter and a combining accent)', async () => {
    const { team, admin } = await teamWithAdmin();
    const local = `jos\u00e9.${Math.random().toString(36).slice(2, 8)}`;
    const composed = `${local}@example.es`;
    const decomposed = composed.normalize('NFD').toUpperCase();
    expect(decomposed).not.toBe(composed);
    const r = expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `José <${composed}>` }), 201);
    expect(r.member.autodeskId).toBe(composed);
    // The same person again, typed otherwise: already invited, not a second member.
    expect((await admin.post(`/v1/teams/${team}/members`, { invite: `José <${decomposed}>` })).status).toBe(409);
    const imported = expectStatus(await postCsv(admin, `/v1/teams/${team}/members/import`, `name,email\nJosé,${decomposed}\n`), 200);
    expect(imported).toMatchObject({ created: 0, updated: 1, errors: [] });
    expect((await allMembers(admin, team)).map((m) => m.autodeskId)).toEqual([composed]);
    // An account made in one form signs in with the other.
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const other = `ren\u00e9e.${Math.random().toString(36).slice(2, 8)}@example.fr`;
    expectStatus(await gw.op.post('/v1/users', { autodeskId: other.normalize('NFD'), name: 'Renée', password }), 201);
    expect((await gw.op.post('/v1/users', { autodeskId: other, name: 'Renée', password })).status).toBe(409);
    expectStatus(await gw.anon.post('/v1/signin', { autodeskId: other, password }), 200);
  });

  it('R11: adding an existing account by Autodesk ID asks that person: invited until they accept; an unknown one is 404, a second add 409', async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw);
    const r = expectStatus(await admin.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['maya'] }), 201);
    expect(r.member).toMatchObject({ status: 'invited', products: ['maya'] });
    expect(r.invitation.id).toEqual(r.member.invitation.id);
    expect((await admin.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId })).status).toBe(409);
    await acceptInvitationOf(gw, account);
    expect(expectStatus(await admin.get(`/v1/teams/${team}/members`), 200)).toMatchObject([
      { autodeskId: account.autodeskId, status: 'active' },
    ]);
    expect((await admin.post(`/v1/teams/${team}/members`, { autodeskId: uniqueEmail('nobody') })).status).toBe(404);
  });

  it('R11: removing a member ends access at once and kills a pending invitation token', async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad'] }, admin);
    const user = await signIn(gw, account);
    expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect((await admin.delete(`/v1/teams/${team}/members/${account.autodeskId}`)).status).toBe(204);
    const refused = await user.api.post('/v1/launch', { product: 'autocad' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('no-access');
    expect((await admin.delete(`/v1/teams/${team}/members/${account.autodeskId}`)).status).toBe(404);

    const email = uniqueEmail();
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `Gone Soon <${email}>` }), 201);
    const token = tokenOf((await mailsTo(gw, email))[0].text);
    expect((await admin.delete(`/v1/teams/${team}/members/${email}`)).status).toBe(204);
    expect((await gw.anon.post('/v1/invitations/accept', { token, password: 'a-good-password' })).status).toBe(404);
  });

  it("R11, R7: a removed member's open session goes on without the team's balance, whichever team the relaunch names", async () => {
    const { team, admin } = await teamWithAdmin(200);
    const other = await newTeam(gw, 100);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { allProducts: true }, admin);
    await joinTeam(gw, other, account, { allProducts: true });
    const user = await signIn(gw, account);
    const sessions: Record<string, string> = {};
    for (const product of ['autocad', 'revit'])
      sessions[product] = expectStatus(await user.api.post('/v1/launch', { product, team }), 200).session.id;
    const heartbeat = async () => expectStatus(await user.api.post(`/v1/sessions/${sessions.autocad}/heartbeat`), 200);
    let keys = 0;
    /**
     * Three relaunches naming the other team: the first decided from the database, the others from
     * the warm cache. AutoCAD's without a key; Revit's each with its own key, so that the first goes
     * through the charge group, which finds the session.
     */
    const relaunches = async () => {
      const answers = [];
      for (const product of ['autocad', 'revit'])
        for (let i = 0; i < 3; i++) {
          const headers: Record<string, string> = product === 'revit' ? { 'idempotency-key': `removed-${keys++}` } : {};
          const a = expectStatus(await user.api.post('/v1/launch', { product, team: other }, headers), 200);
          expect(a).toMatchObject({ session: { id: sessions[product] }, team, charged: 0 });
          answers.push(a);
        }
      return answers;
    };
    // Still a member of the team that pays: its balance is theirs to see, through either team (R7).
    expect(await heartbeat()).toMatchObject({ session: { id: sessions.autocad }, balance: 183 });
    for (const a of await relaunches()) expect(a.balance).toBe(183);

    expect((await admin.delete(`/v1/teams/${team}/members/${account.autodeskId}`)).status).toBe(204);
    expect((await user.api.post('/v1/launch', { product: 'autocad', team })).body).toMatchObject({ code: 'no-access' });
    expectStatus(await admin.post(`/v1/teams/${team}/purchases`, { tokens: 1234 }), 201);
    // The sessions stay theirs to the end of the day paid for (R12), but the team's balance does not:
    // neither through a heartbeat nor through a relaunch naming the other team, cached or not.
    const answers = [await heartbeat(), ...(await relaunches()), await heartbeat()];
    for (const a of answers) expect(a).toMatchObject({ granted: true, source: 'flex', team, charged: 0, balance: null });
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', team: other, dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: true, charge: 0, balance: null, balanceAfter: null });

    // A member who stays sees the balance in the same answers.
    const stays = await newAccount(gw);
    await joinTeam(gw, team, stays, {}, admin);
    await joinTeam(gw, other, stays, { allProducts: true });
    expectStatus(await admin.put(`/v1/teams/${team}/members/${stays.autodeskId}/products`, { allProducts: true }), 200);
    const staying = await signIn(gw, stays);
    const own = expectStatus(await staying.api.post('/v1/launch', { product: 'revit', team }), 200);
    expect(own).toMatchObject({ charged: 10, balance: 1407 });
    expect(expectStatus(await staying.api.post(`/v1/sessions/${own.session.id}/heartbeat`), 200)).toMatchObject({ balance: 1407 });
    for (let i = 0; i < 3; i++)
      expect(expectStatus(await staying.api.post('/v1/launch', { product: 'revit', team: other }), 200)).toMatchObject({
        session: { id: own.session.id },
        balance: 1407,
      });
  });
});

describe('product access (R12)', () => {
  it('R12: "all products" reaches a product added to the catalog later; a fixed list does not, until it is assigned; clearing removes access', async () => {
    const { team, admin } = await teamWithAdmin();
    const all = await signIn(gw, await newAccount(gw));
    const fixed = await signIn(gw, await newAccount(gw));
    await joinTeam(gw, team, all, { allProducts: true }, admin);
    await joinTeam(gw, team, fixed, { products: ['autocad'] }, admin);

    const added = await newProduct(3);
    expect(expectStatus(await all.api.post('/v1/launch', { product: added }), 200).charged).toBe(3);
    const refused = await fixed.api.post('/v1/launch', { product: added });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'no-access', rule: 'R12' });

    const updated = expectStatus(
      await admin.put(`/v1/teams/${team}/members/${fixed.autodeskId}/products`, { products: ['autocad', added] }),
      200,
    );
    expect(updated).toMatchObject({ allProducts: false, products: [added, 'autocad'].sort() });
    expect(expectStatus(await fixed.api.post('/v1/launch', { product: added }), 200).charged).toBe(3);

    expectStatus(await admin.put(`/v1/teams/${team}/members/${fixed.autodeskId}/products`, { products: [added] }), 200);
    expect((await fixed.api.post('/v1/launch', { product: 'autocad' })).body.code).toBe('no-access');
    expect((await admin.put(`/v1/teams/${team}/members/${fixed.autodeskId}/products`, { products: ['photoshop'] })).status).toBe(404);
  });
});

describe('default assignments (R13)', () => {
  it('R13: defaults reach every non-guest member, new and existing, never a guest, never grow with the catalog; an empty set turns them off', async () => {
    const { team, admin } = await teamWithAdmin(500);
    const existing = await signIn(gw, await newAccount(gw));
    const guest = await signIn(gw, await newAccount(gw));
    await joinTeam(gw, team, existing, {}, admin);
    await joinTeam(gw, team, guest, { guest: true }, admin);
    expect(expectStatus(await admin.get(`/v1/teams/${team}/defaults`), 200)).toMatchObject({ products: [], enabled: false });

    expect(expectStatus(await admin.put(`/v1/teams/${team}/defaults`, { products: ['revit', 'maya'] }), 200)).toMatchObject({
      products: ['maya', 'revit'],
      enabled: true,
    });
    const later = await signIn(gw, await newAccount(gw));
    await joinTeam(gw, team, later, {}, admin);

    expect(expectStatus(await existing.api.post('/v1/launch', { product: 'revit' }), 200).source).toBe('flex');
    expect(expectStatus(await later.api.post('/v1/launch', { product: 'maya' }), 200).source).toBe('flex');
    const guestTry = await guest.api.post('/v1/launch', { product: 'revit' });
    expect(guestTry.status).toBe(403);
    expect(guestTry.body).toMatchObject({ code: 'no-access', rule: 'R13' });

    const added = await newProduct();
    expect((await existing.api.post('/v1/launch', { product: added })).body.code).toBe('no-access');
    expect(expectStatus(await admin.get(`/v1/teams/${team}/defaults`), 200).products).toEqual(['maya', 'revit']);

    expect(expectStatus(await admin.put(`/v1/teams/${team}/defaults`, { products: [] }), 200)).toMatchObject({
      products: [],
      enabled: false,
    });
    expect((await later.api.post('/v1/launch', { product: 'revit' })).body.code).toBe('no-access');
    expect((await admin.put(`/v1/teams/${team}/defaults`, { products: ['nope'] })).status).toBe(404);
  });
});

describe('notifications (R14)', () => {
  it('R14: an individual assignment and a product change e-mail the user; an import and a defaults change send nothing', async () => {
    const { team, admin } = await teamWithAdmin();
    const one = await newAccount(gw);
    await joinTeam(gw, team, one, { products: ['autocad'] }, admin);
    let mails = await mailsTo(gw, one.autodeskId);
    // Adding an existing account asks that person (R11): the invitation lists what they will use.
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ kind: 'invitation', to: one.autodeskId });
    expect(mails[0].text).toMatch(/AutoCAD/);

    expectStatus(await admin.put(`/v1/teams/${team}/members/${one.autodeskId}/products`, { products: ['autocad', 'revit'] }), 200);
    mails = await mailsTo(gw, one.autodeskId);
    expect(mails).toHaveLength(2);
    expect(mails[1].text).toMatch(/Revit/);
    // Saving the same selection again changes nothing, so it tells nobody anything.
    expectStatus(await admin.put(`/v1/teams/${team}/members/${one.autodeskId}/products`, { products: ['revit', 'autocad'] }), 200);
    expectStatus(await admin.put(`/v1/teams/${team}/defaults`, { products: ['maya'] }), 200);
    expect(await mailsTo(gw, one.autodeskId)).toHaveLength(2);

    const imported = await newAccount(gw);
    const fresh = uniqueEmail('imported');
    const csv = `name,email,products,guest\nImported One,${imported.autodeskId},autocad,false\nNew Person,${fresh},revit,false\n${'Known Again'},${one.autodeskId},maya,false\n`;
    expect(expectStatus(await postCsv(admin, `/v1/teams/${team}/members/import`, csv), 200)).toEqual({
      created: 2,
      updated: 1,
      errors: [],
    });
    expect(await mailsTo(gw, imported.autodeskId)).toEqual([]);
    expect(await mailsTo(gw, fresh)).toEqual([]);
    expect(await mailsTo(gw, one.autodeskId)).toHaveLength(2);
    const members = expectStatus(await admin.get(`/v1/teams/${team}/members`), 200);
    // R11: an imported existing account is asked too; it waits for the e-mail an admin sends.
    expect(members.find((m: any) => m.autodeskId === imported.autodeskId)).toMatchObject({ status: 'invited', products: ['autocad'] });
    const pending = members.find((m: any) => m.autodeskId === fresh);
    expect(pending).toMatchObject({ status: 'invited', name: 'New Person' });
    // An imported invitee gets the invitation e-mail only when an admin sends it.
    expectStatus(await admin.post(`/v1/teams/${team}/invitations/${pending.invitation.id}/resend`), 200);
    expect((await mailsTo(gw, fresh)).map((m) => m.kind)).toEqual(['invitation']);
  });

  it("R13/R14: an invitation lists what accepting gives: the person's own products and the team's defaults, none of them to a guest", async () => {
    const { team, admin } = await teamWithAdmin();
    expectStatus(await admin.put(`/v1/teams/${team}/defaults`, { products: ['revit'] }), 200);
    const listed = async (to: string) => {
      const mails = (await mailsTo(gw, to)).filter((m) => m.kind === 'invitation');
      const text = String(mails.at(-1)?.text ?? '');
      return [...text.matchAll(/^ {2}- (.+)$/gm)].map((m) => m[1]);
    };
    const regular = uniqueEmail('regular');
    const guest = uniqueEmail('guest');
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `Reg Ular <${regular}>`, products: ['autocad'] }), 201);
    const asked = expectStatus(
      await admin.post(`/v1/teams/${team}/members`, { invite: `Gus Guest <${guest}>`, products: ['autocad'], guest: true }),
      201,
    );
    expect(await listed(regular)).toEqual(['AutoCAD', 'Revit']);
    expect(await listed(guest)).toEqual(['AutoCAD']);
    // Nothing of their own: the defaults alone, where the e-mail said "(none)".
    const account = await newAccount(gw);
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId }), 201);
    expect(await listed(account.autodeskId)).toEqual(['Revit']);
    // A resend and a bulk send after an import say the same.
    expectStatus(await admin.post(`/v1/teams/${team}/invitations/${asked.invitation.id}/resend`), 200);
    expect(await listed(guest)).toEqual(['AutoCAD']);
    const imported = uniqueEmail('imported');
    const csv = `name,email,products,guest\nIm Ported,${imported},maya,false\n`;
    expectStatus(await postCsv(admin, `/v1/teams/${team}/members/import`, csv), 200);
    expect(expectStatus(await admin.post(`/v1/teams/${team}/invitations/send`, {}), 200).sent).toBe(1);
    expect(await listed(imported)).toEqual(['Maya', 'Revit']);
  });
});

describe('explain (R18)', () => {
  it('R18: for every catalog product, whether the member may launch it, which source won and which rule refused', async () => {
    const { team, admin } = await teamWithAdmin();
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad'] }, admin);
    expectStatus(await admin.put(`/v1/teams/${team}/defaults`, { products: ['maya'] }), 200);
    expectStatus(
      await gw.op.post('/v1/subscriptions', { autodeskId: account.autodeskId, product: 'revit', endsAt: at(30 * DAY).toISOString() }),
      201,
    );
    const catalog = expectStatus(await gw.op.get('/v1/products'), 200);

    const answer = expectStatus(await admin.get(`/v1/teams/${team}/members/${account.autodeskId}/access`), 200);
    expect(answer.map((a: any) => a.product).sort()).toEqual(catalog.map((p: any) => p.key).sort());
    const by = new Map(answer.map((a: any) => [a.product, a]));
    expect(by.get('autocad')).toMatchObject({ granted: true, source: 'flex' });
    // The subscription is the person's own, not this team's: the admin sees this team's answer only.
    expect(by.get('revit')).toMatchObject({ granted: false, source: null, code: 'no-access' });
    expect((by.get('revit') as any).reason).not.toMatch(/subscription|trial/i);
    expect((by.get('maya') as any).reason).toMatch(/default/);
    expect(by.get('civil-3d')).toMatchObject({ granted: false, code: 'no-access', rule: 'R12' });
    for (const a of answer) expect(a.reason.length).toBeGreaterThan(10);

    const email = uniqueEmail();
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `Pending Person <${email}>`, allProducts: true }), 201);
    const pending = expectStatus(await admin.get(`/v1/teams/${team}/members/${email}/access`), 200);
    expect(pending.every((a: any) => !a.granted && a.code === 'invitation-pending' && a.rule === 'R11')).toBe(true);
    expect((await admin.get(`/v1/teams/${team}/members/${uniqueEmail('stranger')}/access`)).status).toBe(404);
  });
});

/** A rule number (R11, R7a) means nothing to the person who reads an e-mail or a reason: none may show. */
const RULE_NUMBER = /\bR\d+[a-z]?\b/;
/** A link's random token can hold "-R40-"; a link is not prose, so it is left out of the check. */
const prose = (text: string): string => text.replace(/https?:\/\/\S+/g, '<link>');
/** Every kind of e-mail the gateway sends (R11, R14, R19). */
const MAIL_KINDS = ['access', 'alert-expiring', 'alert-low-balance', 'invitation'];

describe('plain language', () => {
  it('no e-mail of any kind, and no reason given to a person, names a rule by its number', async () => {
    const team = await newTeam(gw);
    const { email: adminEmail, api: admin } = await newAdmin(gw, [team]);
    const other = await newTeam(gw);
    // R19: a lot that expires within 90 days, then a charge that leaves less than 20% of it.
    await buy(gw, team, 100, at(-300 * DAY).toISOString());
    const big = await newProduct(90);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: [big] }, admin);
    expectStatus(await admin.put(`/v1/teams/${team}/members/${account.autodeskId}/products`, { products: [big, 'autocad'] }), 200);
    const user = await signIn(gw, account);
    const charged = expectStatus(await user.api.post('/v1/launch', { product: big }), 200);
    expect(charged.balance).toBe(10);
    const short = expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await user.api.post(`/v1/sessions/${short.session.id}/end`), 200); // refunded
    expectStatus(await gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 1 }), 201);
    const invited = expectStatus(
      await admin.post(`/v1/teams/${team}/members`, { invite: `Pending Person <${uniqueEmail()}>`, products: ['revit'] }),
      201,
    );
    expectStatus(await admin.post(`/v1/teams/${team}/invitations/${invited.invitation.id}/resend`), 200);

    const outbox: any[] = expectStatus(await gw.op.get('/v1/outbox?limit=10000'), 200);
    const ours = outbox.filter((m) => [adminEmail, account.autodeskId, invited.member.autodeskId].includes(m.to));
    expect([...new Set(ours.map((m) => m.kind))].sort()).toEqual(MAIL_KINDS);
    expect([...new Set(outbox.map((m) => m.kind))].sort()).toEqual(MAIL_KINDS);
    for (const m of outbox) {
      expect(m.subject, `${m.kind} e-mail`).not.toMatch(RULE_NUMBER);
      expect(prose(m.text), `${m.kind} e-mail`).not.toMatch(RULE_NUMBER);
    }

    // Reasons: the ledger's, the access explanation's and a refusal's detail (the `rule` field keeps the number).
    const reasons: string[] = [];
    for (const t of [team, other]) reasons.push(...expectStatus(await gw.op.get(`/v1/teams/${t}/ledger`), 200).map((e: any) => e.reason));
    // purchase, charge, charge and its refund, transfer out, transfer in
    expect(reasons).toHaveLength(6);
    const explained = expectStatus(await admin.get(`/v1/teams/${team}/members/${account.autodeskId}/access`), 200);
    reasons.push(...explained.map((a: any) => a.reason));
    const refused = await user.api.post('/v1/launch', { product: 'revit' });
    expect(refused.body).toMatchObject({ code: 'no-access', rule: 'R12' });
    reasons.push(refused.body.detail);
    for (const r of reasons) expect(r).not.toMatch(RULE_NUMBER);
  });
});
