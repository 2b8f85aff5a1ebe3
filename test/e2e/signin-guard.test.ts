import { afterAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf } from '../harness/admin';
import { textOf } from '../harness/console';
import { newAccount, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, expectStatus } from '../harness/http';

/**
 * Sign-in under attack: failures counted per Autodesk ID across instances, with a growing delay,
 * whether the password is tried at sign-in or by accepting an invitation for the account; password hashing on its own bounded pool, refusing what it cannot start soon; look-ups of
 * existing accounts bounded per admin key.
 */
const open: TestGateway[] = [];
afterAll(async () => {
  for (const g of open.reverse()) await g.close();
});

async function started(...args: Parameters<typeof startTestGateway>): Promise<TestGateway> {
  const gw = await startTestGateway(...args);
  open.push(gw);
  return gw;
}

function expectWait(a: Answer, code: string, status: number): number {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(a.headers.get('content-type')).toContain('application/problem+json');
  expect(a.body.code).toBe(code);
  const retry = Number(a.headers.get('retry-after'));
  expect(Number.isInteger(retry) && retry >= 1, `Retry-After ${retry}`).toBe(true);
  return retry;
}

describe('sign-in failures, counted across instances', () => {
  it('five failures spread over two instances make the Autodesk ID wait on both, right password included; then it starts over', async () => {
    // Clocks that stand still: both instances see the same instants, moved only by the test.
    const still = { now: () => new Date('2026-01-01T00:00:00.000Z') };
    const a = await started({}, undefined, { clock: still });
    const b = await started({}, a, { clock: still });
    const t0 = new Date('2026-12-01T09:00:00.000Z');
    for (const gw of [a, b]) await setClock(gw, t0);
    const acc = await newAccount(a);
    for (let i = 0; i < 5; i++) {
      const gw = i % 2 === 0 ? a : b;
      expect((await gw.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: `wrong-guess-${i}` })).status).toBe(401);
    }
    // The fifth failure started a delay: neither instance lets even the right password through.
    expect(expectWait(await b.anon.post('/v1/signin', acc), 'too-many-requests', 429)).toBe(1);
    expectWait(await a.anon.post('/v1/signin', { ...acc, autodeskId: acc.autodeskId.toUpperCase() }), 'too-many-requests', 429);
    // Once it has passed, one more failure doubles it.
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 1500));
    expect((await a.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: 'wrong-guess-5' })).status).toBe(401);
    expect(expectWait(await b.anon.post('/v1/signin', acc), 'too-many-requests', 429)).toBe(2);
    // The right password after the delay signs in, and the count starts over.
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 4000));
    expectStatus(await b.anon.post('/v1/signin', acc), 200);
    for (let i = 0; i < 4; i++)
      expect((await a.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: 'nope' })).status).toBe(401);
    expectStatus(await a.anon.post('/v1/signin', acc), 200);
  });

  it('an unknown Autodesk ID waits the same way, so the delay does not tell which accounts exist', async () => {
    const gw = await started();
    const ghost = { autodeskId: `ghost.${Date.now()}@example.com`, password: 'whatever-1' };
    for (let i = 0; i < 5; i++) expect((await gw.anon.post('/v1/signin', ghost)).status).toBe(401);
    expectWait(await gw.anon.post('/v1/signin', ghost), 'too-many-requests', 429);
  });

  it('failures of one account never make another wait', async () => {
    const gw = await started();
    const [victim, bystander] = [await newAccount(gw), await newAccount(gw)];
    // The bystander has a failure of its own on record, but far from the limit.
    expect((await gw.anon.post('/v1/signin', { autodeskId: bystander.autodeskId, password: 'typo' })).status).toBe(401);
    for (let i = 0; i < 6; i++) await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: 'wrong-one' });
    expectStatus(await gw.anon.post('/v1/signin', bystander), 200);
  });

  it("another account's successful sign-in does not wipe this one's failures", async () => {
    const gw = await started();
    const [victim, attacker] = [await newAccount(gw), await newAccount(gw)];
    for (let i = 0; i < 4; i++) {
      expect((await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: `wrong-guess-${i}` })).status).toBe(401);
      // An attacker failing, then signing in, on an account of their own between guesses changes nothing.
      expect((await gw.anon.post('/v1/signin', { autodeskId: attacker.autodeskId, password: 'oops' })).status).toBe(401);
      expectStatus(await gw.anon.post('/v1/signin', attacker), 200);
    }
    expect((await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: 'guess-4' })).status).toBe(401);
    expectWait(await gw.anon.post('/v1/signin', victim), 'too-many-requests', 429);
  });
});

describe('accepting an invitation for an existing account: the same guard as sign-in', () => {
  // Clocks that stand still: both instances see the same instants, moved only by the test.
  const still = { now: () => new Date('2026-01-01T00:00:00.000Z') };
  const t0 = new Date('2026-12-01T09:00:00.000Z');

  /** Two instances on one database, and an existing account asked into a team: the token of its invitation. */
  async function asked(): Promise<{ a: TestGateway; b: TestGateway; acc: { autodeskId: string; password: string }; token: string }> {
    const a = await started({}, undefined, { clock: still });
    const b = await started({}, a, { clock: still });
    for (const gw of [a, b]) await setClock(gw, t0);
    const acc = await newAccount(a);
    const team = await newTeam(a);
    expectStatus(await a.op.post(`/v1/teams/${team}/members`, { autodeskId: acc.autodeskId }), 201);
    const mail = (await mailsTo(a, acc.autodeskId)).filter((m) => m.kind === 'invitation').at(-1);
    return { a, b, acc, token: tokenOf(mail.text) };
  }

  /** The invitation page as the person's browser posts it: its CSRF cookie and field, then the password. */
  async function acceptOnPage(gw: TestGateway, token: string, password: string) {
    const page = await fetch(`${gw.url}/console/invitations/accept?token=${encodeURIComponent(token)}`);
    const cookie = (page.headers.getSetCookie().find((c) => c.startsWith('fg_console_invite=')) ?? '').split(';')[0] as string;
    const csrf = /name="_csrf" value="([^"]*)"/.exec(await page.text())?.[1] ?? '';
    const r = await fetch(`${gw.url}/console/invitations/accept`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, token, answer: 'accept', password }).toString(),
    });
    return { status: r.status, retryAfter: r.headers.get('retry-after'), text: textOf(await r.text()) };
  }

  it('wrong passwords on accept, on either instance, lock the Autodesk ID for sign-in too; after the wait the right one accepts', async () => {
    const { a, b, acc, token } = await asked();
    for (let i = 0; i < 5; i++) {
      const gw = i % 2 === 0 ? a : b;
      const wrong = await gw.anon.post('/v1/invitations/accept', { token, password: `wrong-guess-${i}` });
      expect(wrong.status, JSON.stringify(wrong.body)).toBe(401);
    }
    // Locked: the right password is refused on both routes and both instances, as a sign-in would be.
    expect(expectWait(await b.anon.post('/v1/invitations/accept', { token, password: acc.password }), 'too-many-requests', 429)).toBe(1);
    expectWait(await a.anon.post('/v1/signin', acc), 'too-many-requests', 429);
    // The invitation page says so in words, with the same Retry-After.
    const page = await acceptOnPage(a, token, acc.password);
    expect(page.status).toBe(429);
    expect(page.retryAfter).toBe('1');
    expect(page.text).toContain('Too many wrong passwords were tried for this Autodesk account. Wait 1 second, then try again.');
    expect(page.text).not.toContain('You joined');
    // A guess after the delay doubles it, whichever route makes it.
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 1500));
    expect((await a.anon.post('/v1/invitations/accept', { token, password: 'wrong-guess-5' })).status).toBe(401);
    expect(expectWait(await b.anon.post('/v1/signin', acc), 'too-many-requests', 429)).toBe(2);
    // Once it has passed, the right password accepts, and the count starts over.
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 4000));
    expect(expectStatus(await b.anon.post('/v1/invitations/accept', { token, password: acc.password }), 200)).toMatchObject({
      status: 'active',
      accountCreated: false,
    });
    expectStatus(await a.anon.post('/v1/signin', acc), 200);
  });

  it('failed sign-ins lock the accept too, API and invitation page alike', async () => {
    const { a, b, acc, token } = await asked();
    for (let i = 0; i < 5; i++) {
      const gw = i % 2 === 0 ? a : b;
      expect((await gw.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: `wrong-guess-${i}` })).status).toBe(401);
    }
    expectWait(await a.anon.post('/v1/invitations/accept', { token, password: acc.password }), 'too-many-requests', 429);
    expect((await acceptOnPage(b, token, acc.password)).status).toBe(429);
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 1500));
    expect((await acceptOnPage(b, token, acc.password)).text).toContain('You joined');
  });
});

describe('password hashing on a bounded pool of its own', () => {
  it('a burst beyond the queue is refused at once with 503 and Retry-After; what was admitted signs in, nothing is lost', async () => {
    const gw = await started({ scryptN: 16384, scryptThreads: 1, scryptQueue: 4 });
    const acc = await newAccount(gw);
    const answers = await Promise.all(Array.from({ length: 30 }, () => gw.anon.post('/v1/signin', acc)));
    const ok = answers.filter((r) => r.status === 200);
    const busy = answers.filter((r) => r.status === 503);
    expect(ok.length + busy.length, JSON.stringify(answers.map((r) => r.status))).toBe(30);
    // One running and four waiting at the first moment; more as the first ones finish.
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) expectWait(r, 'service-unavailable', 503);
    // The refused ones come back later and sign in.
    expectStatus(await gw.anon.post('/v1/signin', acc), 200);
    // While hashing was saturated, the gateway answered everything else.
    expectStatus(await gw.anon.get('/healthz'), 200);
  });
});

describe('looking up Autodesk IDs, per admin key', () => {
  it('adding existing accounts is bounded per admin key; invitations and other admins are not', async () => {
    const gw = await started({
      rateLimit: true,
      rateLimits: {
        signinPerUser: 1000,
        signinPerIp: 1000,
        launchPerUser: 1000,
        launchPerIp: 1000,
        lookupPerAdmin: 3,
        invitePerAdmin: 1000,
        inviteBulkPerHour: 1000,
      },
    });
    await seedCatalog(gw);
    const team = await newTeam(gw, 100);
    const prober = await newAdmin(gw, [team]);
    const other = await newAdmin(gw, [team]);
    for (let i = 0; i < 3; i++)
      expect((await prober.api.post(`/v1/teams/${team}/members`, { autodeskId: `probe${i}@example.com` })).status).toBe(404);
    expectWait(await prober.api.post(`/v1/teams/${team}/members`, { autodeskId: 'probe9@example.com' }), 'too-many-requests', 429);
    expectStatus(await prober.api.post(`/v1/teams/${team}/members`, { invite: 'New Person <new.person@example.com>' }), 201);
    expect((await other.api.post(`/v1/teams/${team}/members`, { autodeskId: 'probe9@example.com' })).status).toBe(404);
  });
});
