import { afterAll, describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { newAccount, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, expectStatus } from '../harness/http';

/**
 * Sign-in under attack: failures counted per Autodesk ID across instances, with a growing delay;
 * password hashing on its own bounded pool, refusing what it cannot start soon; look-ups of
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
      expect((await gw.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: `guess-${i}` })).status).toBe(401);
    }
    // The fifth failure started a delay: neither instance lets even the right password through.
    expect(expectWait(await b.anon.post('/v1/signin', acc), 'too-many-requests', 429)).toBe(1);
    expectWait(await a.anon.post('/v1/signin', { ...acc, autodeskId: acc.autodeskId.toUpperCase() }), 'too-many-requests', 429);
    // Once it has passed, one more failure doubles it.
    for (const gw of [a, b]) await setClock(gw, new Date(t0.getTime() + 1500));
    expect((await a.anon.post('/v1/signin', { autodeskId: acc.autodeskId, password: 'guess-5' })).status).toBe(401);
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
      expect((await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: `guess-${i}` })).status).toBe(401);
      // An attacker failing, then signing in, on an account of their own between guesses changes nothing.
      expect((await gw.anon.post('/v1/signin', { autodeskId: attacker.autodeskId, password: 'oops' })).status).toBe(401);
      expectStatus(await gw.anon.post('/v1/signin', attacker), 200);
    }
    expect((await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: 'guess-4' })).status).toBe(401);
    expectWait(await gw.anon.post('/v1/signin', victim), 'too-many-requests', 429);
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
