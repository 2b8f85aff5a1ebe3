import { afterAll, describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { consoleSignIn } from '../harness/console';
import { newAccount, newMember, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

/**
 * Staying signed in: a sign-in answers a short-lived access token and a single-use, rotating
 * refresh token; reuse of an old refresh token ends the sign-in everywhere; sign-out, an
 * operator's revocation, admin key rotation and removal take effect on every instance.
 */
const open: TestGateway[] = [];
afterAll(async () => {
  for (const g of open.reverse()) await g.close();
});

// Clocks that stand still: the test moves them, and two instances see the same instants.
const still = { now: () => new Date('2026-01-01T00:00:00.000Z') };
const T0 = new Date('2026-12-01T09:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

async function pair(): Promise<[TestGateway, TestGateway]> {
  const a = await startTestGateway({}, undefined, { clock: still });
  open.push(a);
  const b = await startTestGateway({}, a, { clock: still });
  open.push(b);
  await seedCatalog(a);
  for (const gw of [a, b]) await setClock(gw, T0);
  return [a, b];
}

async function both(gws: TestGateway[], when: Date) {
  for (const gw of gws) await setClock(gw, when);
}

/** Polls until `check` holds, for at most `ms`: revocations reach other instances within a poll period. */
async function eventually(check: () => Promise<boolean>, ms = 6000): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

describe('refresh tokens (RFC 9700 4.14: single-use, rotating, reuse detection)', () => {
  it('a refresh answers a new access token and a new refresh token; the access token works on every instance', async () => {
    const [a, b] = await pair();
    const team = await newTeam(a, 100);
    const user = await newMember(a, team, ['autocad']);
    const first = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    expect(first.refreshToken).toMatch(/^fgr_/);
    await both([a, b], at(60_000));
    const second = expectStatus(await b.anon.post('/v1/token/refresh', { refreshToken: first.refreshToken }), 200);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.token).not.toBe(first.token);
    expect(second.autodeskId).toBe(user.autodeskId);
    expect(Date.parse(second.expiresAt)).toBeGreaterThan(at(60_000).getTime());
    expectStatus(await a.anon.as(second.token).post('/v1/launch', { product: 'autocad' }), 200);
    // The next one rotates again.
    await both([a, b], at(120_000));
    expectStatus(await a.anon.post('/v1/token/refresh', { refreshToken: second.refreshToken }), 200);
  });

  it('reusing a used refresh token ends the whole sign-in: the newest refresh token and its access tokens stop, on both instances', async () => {
    const [a, b] = await pair();
    const team = await newTeam(a, 100);
    const user = await newMember(a, team, ['autocad']);
    const stolen = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    await both([a, b], at(60_000));
    const legit = expectStatus(await a.anon.post('/v1/token/refresh', { refreshToken: stolen.refreshToken }), 200);
    // Verified and cached on both instances before the reuse.
    for (const gw of [a, b]) expectStatus(await gw.anon.as(legit.token).post('/v1/launch', { product: 'autocad' }), 200);
    await both([a, b], at(120_000));
    const reuse = await b.anon.post('/v1/token/refresh', { refreshToken: stolen.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.detail).toMatch(/used before/);
    expect((await a.anon.post('/v1/token/refresh', { refreshToken: legit.refreshToken })).status).toBe(401);
    // Refused at once where the reuse was seen, and within a poll on the other instance.
    expect((await b.anon.as(legit.token).post('/v1/launch', { product: 'autocad' })).status).toBe(401);
    await eventually(async () => (await a.anon.as(legit.token).post('/v1/launch', { product: 'autocad' })).status === 401);
    // A new sign-in works.
    const again = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    expectStatus(await a.anon.as(again.token).post('/v1/launch', { product: 'autocad' }), 200);
  });

  it('two refreshes racing with one token: one rotates, the other gets 409 and the sign-in lives on', async () => {
    const [a, b] = await pair();
    const acc = await newAccount(a);
    const s = expectStatus(await a.anon.post('/v1/signin', acc), 200);
    // Eight at once, four on each instance: whichever rotates, only one does.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? b : a).anon.post('/v1/token/refresh', { refreshToken: s.refreshToken })),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = answers.find((r) => r.status === 200)?.body;
    expectStatus(await a.anon.post('/v1/token/refresh', { refreshToken: winner.refreshToken }), 200);
  });

  it('a refresh token unused for 30 days expires; unknown and malformed ones are refused clearly', async () => {
    const [a] = await pair();
    const acc = await newAccount(a);
    const s = expectStatus(await a.anon.post('/v1/signin', acc), 200);
    await setClock(a, at(30 * 86_400_000 + 1000));
    const late = await a.anon.post('/v1/token/refresh', { refreshToken: s.refreshToken });
    expect(late.status).toBe(401);
    expect(late.body.detail).toMatch(/expired/);
    expect((await a.anon.post('/v1/token/refresh', { refreshToken: 'fgr_nope' })).status).toBe(401);
    const bad = await a.anon.post('/v1/token/refresh', { refreshToken: 12 });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('revocation, refused on every instance within seconds', () => {
  it('sign-out ends that sign-in only: its tokens stop on both instances, another sign-in of the same user goes on', async () => {
    const [a, b] = await pair();
    const team = await newTeam(a, 100);
    const user = await newMember(a, team, ['autocad']);
    const laptop = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    const desktop = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    for (const gw of [a, b]) expectStatus(await gw.anon.as(laptop.token).post('/v1/launch', { product: 'autocad' }), 200);
    expect((await a.anon.as(laptop.token).post('/v1/signout', {})).status).toBe(204);
    const ended = await a.anon.as(laptop.token).post('/v1/launch', { product: 'autocad' });
    expect(ended.status).toBe(401);
    // Said as it is: this sign-in was ended, not a token that is wrong.
    expect(ended.body.detail).toBe('This sign-in was ended (signed out or revoked); sign in again.');
    const ms = await eventually(async () => (await b.anon.as(laptop.token).post('/v1/launch', { product: 'autocad' })).status === 401);
    console.log(`sign-out reached the other instance in ${ms} ms`);
    expect((await b.anon.post('/v1/token/refresh', { refreshToken: laptop.refreshToken })).status).toBe(401);
    expectStatus(await b.anon.as(desktop.token).post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await b.anon.post('/v1/token/refresh', { refreshToken: desktop.refreshToken }), 200);
  });

  it("an operator ends every sign-in of a user; the user's next sign-in works", async () => {
    const [a, b] = await pair();
    const team = await newTeam(a, 100);
    const user = await newMember(a, team, ['autocad']);
    const one = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    const two = expectStatus(await b.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    for (const t of [one.token, two.token]) expectStatus(await b.anon.as(t).post('/v1/launch', { product: 'autocad' }), 200);
    await both([a, b], at(2000));
    // Issued in the very second of the revocation, just before it: ended too (every token until now).
    const three = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    expectStatus(await a.op.post(`/v1/operator/users/${encodeURIComponent(user.autodeskId)}/revoke`, {}), 200);
    for (const t of [one.token, two.token, three.token]) {
      await eventually(async () => (await b.anon.as(t).post('/v1/launch', { product: 'autocad' })).status === 401);
    }
    for (const r of [one.refreshToken, two.refreshToken, three.refreshToken])
      expect((await b.anon.post('/v1/token/refresh', { refreshToken: r })).status).toBe(401);
    await both([a, b], at(4000));
    const fresh = expectStatus(await b.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
    expectStatus(await a.anon.as(fresh.token).post('/v1/launch', { product: 'autocad' }), 200);
    // The revocation ended what came before it, not what came after: the new sign-in stays signed in.
    const next = expectStatus(await a.anon.post('/v1/token/refresh', { refreshToken: fresh.refreshToken }), 200);
    expectStatus(await b.anon.as(next.token).post('/v1/launch', { product: 'autocad' }), 200);
    // Only the operator may do it.
    expect((await a.anon.as(fresh.token).post(`/v1/operator/users/${encodeURIComponent(user.autodeskId)}/revoke`, {})).status).toBe(403);
  });

  it('a sign-in made just after an operator revocation, in the very same instant, stays signed in on both instances', async () => {
    const [a, b] = await pair();
    const user = await newAccount(a);
    const signin = async (gw: TestGateway) => expectStatus(await gw.anon.post('/v1/signin', user), 200);
    const works = async (gw: TestGateway, token: string) => (await gw.anon.as(token).get('/v1/me/products')).status;
    // The clocks stand still: the revocation and the sign-ins around it all carry the same instant.
    await both([a, b], at(2000));
    const before = await signin(b);
    expectStatus(await a.op.post(`/v1/operator/users/${encodeURIComponent(user.autodeskId)}/revoke`, {}), 200);
    const here = await signin(a);
    const there = await signin(b);
    expect(await works(a, before.token)).toBe(401);
    await eventually(async () => (await works(b, before.token)) === 401);
    expect((await a.anon.post('/v1/token/refresh', { refreshToken: before.refreshToken })).status).toBe(401);
    // What came after the revocation lives on, on both instances, and so do its refreshes.
    for (const { token, refreshToken } of [here, there]) {
      for (const gw of [a, b]) expect(await works(gw, token)).toBe(200);
      const next = expectStatus(await b.anon.post('/v1/token/refresh', { refreshToken }), 200);
      for (const gw of [a, b]) expect(await works(gw, next.token)).toBe(200);
    }
  });

  it('a stolen refresh token refreshed without pause does not outlive an operator revocation sent meanwhile', async () => {
    // Real clocks: the race is between a refresh that began before the revocation and commits after it.
    const a = await startTestGateway();
    open.push(a);
    const b = await startTestGateway({}, a);
    open.push(b);
    await seedCatalog(a);
    const team = await newTeam(a, 100);
    const ended: string[] = [];
    for (let round = 0; round < 8; round++) {
      const user = await newMember(a, team, ['autocad']);
      const first = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
      let revoked = false;
      // The thief's loop: each answer's refresh token is used at once, two at a time (one per instance).
      const thief = async (gw: TestGateway, start: { token: string; refreshToken: string }) => {
        let last = start;
        for (let i = 0; i < 2000; i++) {
          const sentAfterRevocation = revoked;
          const r = await gw.anon.post('/v1/token/refresh', { refreshToken: last.refreshToken });
          if (r.status !== 200) return { last, refreshedAfterRevocation: false, status: r.status };
          if (sentAfterRevocation) return { last: r.body, refreshedAfterRevocation: true, status: 200 };
          last = r.body;
        }
        throw new Error('the loop never met the revocation');
      };
      const second = expectStatus(await a.anon.post('/v1/signin', { autodeskId: user.autodeskId, password: user.password }), 200);
      const loops = [thief(a, first), thief(b, second)];
      await new Promise((r) => setTimeout(r, 10 + round * 7));
      expectStatus(await b.op.post(`/v1/operator/users/${encodeURIComponent(user.autodeskId)}/revoke`, {}), 200);
      revoked = true;
      for (const out of await Promise.all(loops)) {
        expect(out.refreshedAfterRevocation, `round ${round}: a refresh sent after the revocation answered was refreshed`).toBe(false);
        expect(out.status).toBe(401);
        // Whatever the last refresh before it answered is ended too: its refresh token and its access token.
        expect((await a.anon.post('/v1/token/refresh', { refreshToken: out.last.refreshToken })).status, `round ${round}`).toBe(401);
        ended.push(out.last.token);
      }
    }
    // On the revoking instance at once, on the other within a poll.
    for (const gw of [b, a]) {
      for (const token of ended) {
        await eventually(async () => (await gw.anon.as(token).post('/v1/launch', { product: 'autocad' })).status === 401);
      }
    }
  });

  it('admin keys: rotated (by the operator or the admin itself), revoked, and the admin removed, each refused at once on both instances', async () => {
    const [a, b] = await pair();
    const team = await newTeam(a, 100);
    const admin = await newAdmin(a, [team]);
    const other = await newAdmin(a, [team]);
    // A third admin of the team, signed in to the console, whom none of this may touch.
    const bystander = await newAdmin(a, [team]);
    const bystanderConsole = await consoleSignIn(b, bystander.api.token as string);
    expectStatus(await b.anon.as(admin.api.token as string).get(`/v1/teams/${team}/balance`), 200);
    // Another admin may not touch this one's key.
    expect((await other.api.post(`/v1/admins/${admin.id}/key`, {})).status).toBe(403);
    // An admin holding only its key finds its own id (what rotation takes) from the key itself.
    const me = expectStatus(await admin.api.get('/v1/admins/me'), 200);
    expect(me).toMatchObject({ id: admin.id, teams: [team] });
    expect((await a.op.get('/v1/admins/me')).status).toBe(403);
    const member = await newMember(a, team, ['autocad']);
    const { token } = expectStatus(await a.anon.post('/v1/signin', { autodeskId: member.autodeskId, password: member.password }), 200);
    expect((await a.anon.as(token).get('/v1/admins/me')).status).toBe(403);
    const self = expectStatus(await admin.api.post(`/v1/admins/${me.id}/key`, {}), 200);
    expect(self.key).toMatch(/^fga_/);
    expect((await b.anon.as(admin.api.token as string).get(`/v1/teams/${team}/balance`)).status).toBe(401);
    expectStatus(await b.anon.as(self.key).get(`/v1/teams/${team}/balance`), 200);
    const byOperator = expectStatus(await a.op.post(`/v1/admins/${admin.id}/key`, {}), 200);
    expect((await b.anon.as(self.key).get(`/v1/teams/${team}/balance`)).status).toBe(401);
    expect((await a.op.delete(`/v1/admins/${admin.id}/key`)).status).toBe(204);
    expect((await b.anon.as(byOperator.key).get(`/v1/teams/${team}/balance`)).status).toBe(401);
    expect((await a.op.delete(`/v1/admins/${other.id}`)).status).toBe(204);
    expect((await b.anon.as(other.api.token as string).get(`/v1/teams/${team}/balance`)).status).toBe(401);
    expect((await a.op.delete(`/v1/admins/${other.id}`)).status).toBe(404);
    expectStatus(await b.anon.as(bystander.api.token as string).get(`/v1/teams/${team}/balance`), 200);
    expect((await bystanderConsole.get(`/console/teams/${team}`)).status).toBe(200);
  });
});
