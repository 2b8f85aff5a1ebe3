import { randomBytes } from 'node:crypto';
import { type Config, loadConfig, startGateway, testConfig } from '@flexgate/gateway';
import { afterAll, describe, expect, it } from 'vitest';
import { mailsTo, tokenOf } from '../harness/admin';
import { freshDatabase } from '../harness/db';
import { joinTeam, newAccount, newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { rateLimitsWith, startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, Api, expectStatus } from '../harness/http';

/**
 * Abuse: per-user and per-address rate limits on sign-in and launch (429 problem+json
 * with Retry-After), defaults that never slow a real fleet, the off switch, sign-in timing that
 * does not tell which accounts exist, and secrets that never reach the logs.
 */
const open: TestGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
});

async function gatewayWith(overrides: Partial<Config>): Promise<TestGateway> {
  const gw = await startTestGateway(overrides);
  open.push(gw);
  await seedCatalog(gw);
  return gw;
}

function expect429(a: Answer, what: string): void {
  expect(a.status, `${what}: ${JSON.stringify(a.body)}`).toBe(429);
  expect(a.headers.get('content-type')).toContain('application/problem+json');
  expect(a.body.code).toBe('too-many-requests');
  const retry = Number(a.headers.get('retry-after'));
  expect(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${retry}`).toBe(true);
}

describe('rate limits', () => {
  it('sign-in per user: guessing one account is stopped, the right password included, other accounts are not', async () => {
    const gw = await gatewayWith({ rateLimit: true, rateLimits: rateLimitsWith({ signinPerUser: 3 }) });
    const victim = await newAccount(gw);
    const bystander = await newAccount(gw);
    for (let i = 0; i < 3; i++)
      expect((await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: `guess-${i}` })).status).toBe(401);
    expect429(await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId, password: 'guess-4' }), 'fourth guess');
    // The same account written in capitals is the same Autodesk ID, so the same bucket.
    expect429(
      await gw.anon.post('/v1/signin', { autodeskId: victim.autodeskId.toUpperCase(), password: victim.password }),
      'right password, still limited',
    );
    expectStatus(await gw.anon.post('/v1/signin', bystander), 200);
  });

  it('sign-in per address: many accounts tried from one address are stopped', async () => {
    const gw = await gatewayWith({ rateLimit: true, rateLimits: rateLimitsWith({ signinPerIp: 5 }) });
    for (let i = 0; i < 5; i++)
      expect((await gw.anon.post('/v1/signin', { autodeskId: `nobody${i}@example.com`, password: 'password-1' })).status).toBe(401);
    expect429(await gw.anon.post('/v1/signin', { autodeskId: 'nobody9@example.com', password: 'password-1' }), 'sixth account');
  });

  it('guessing the operator key is stopped per address, the right key included; right keys draw nothing', async () => {
    const gw = await gatewayWith({ rateLimit: true, rateLimits: rateLimitsWith({ signinPerIp: 4 }) });
    // The operator at work: many calls with the right key never empty the bucket.
    for (let i = 0; i < 6; i++) expectStatus(await gw.op.get('/v1/outbox?limit=1'), 200);
    const guesses = [`${gw.operatorKey}x`, 'operator-key-guess-1', 'fga_not-a-real-admin-key', 'operator-key-guess-2'];
    for (const guess of guesses) expect((await gw.anon.as(guess).get('/v1/outbox?limit=1')).status, guess).toBe(401);
    // The fifth wrong key, and then the right one, from the same address: refused before compared,
    // so a guesser cannot tell a right key from a wrong one by the answer.
    expect429(await gw.anon.as('operator-key-guess-3').get('/v1/outbox?limit=1'), 'fifth wrong key');
    expect429(await gw.op.get('/v1/outbox?limit=1'), 'the right key from the guessing address');
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.operatorKey}` } })).text();
    expect(metrics).toMatch(/flexgate_rate_limited_total\{limit="keys-per-ip"\} 2/);
    // Passwords tried from the address are another bucket: sign-in still answers.
    expect((await gw.anon.post('/v1/signin', { autodeskId: 'nobody@example.com', password: 'password-1' })).status).toBe(401);
  });

  it('accepting an invitation draws on the sign-in per-address limit, on the API and the invitation page', async () => {
    const gw = await gatewayWith({ rateLimit: true, rateLimits: rateLimitsWith({ signinPerIp: 4 }) });
    const team = await newTeam(gw);
    const acc = await newAccount(gw);
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: acc.autodeskId }), 201);
    const [mail] = await mailsTo(gw, acc.autodeskId);
    const token = tokenOf(mail.text);
    const page = await fetch(`${gw.url}/console/invitations/accept?token=${encodeURIComponent(token)}`);
    const cookie = (page.headers.getSetCookie().find((c) => c.startsWith('fg_console_invite=')) ?? '').split(';')[0] as string;
    const csrf = /name="_csrf" value="([^"]*)"/.exec(await page.text())?.[1] ?? '';
    const onPage = (password: string) =>
      fetch(`${gw.url}/console/invitations/accept`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, token, answer: 'accept', password }).toString(),
      });
    // Four tries of any kind from this address: sign-ins of other accounts, and accepts.
    for (let i = 0; i < 2; i++)
      expect((await gw.anon.post('/v1/signin', { autodeskId: `nobody${i}@example.com`, password: 'password-1' })).status).toBe(401);
    expect((await gw.anon.post('/v1/invitations/accept', { token, password: 'wrong-guess-1' })).status).toBe(401);
    expect((await onPage('wrong-guess-2')).status).toBe(401);
    expect429(await gw.anon.post('/v1/invitations/accept', { token, password: acc.password }), 'fifth try, an accept');
    const refused = await onPage(acc.password);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.text()).toMatch(/Too many passwords were tried from your network\. Wait \d+ seconds?, then try again\./);
    expect429(await gw.anon.post('/v1/signin', acc), 'sign-in after the accepts');
    // The membership waits: nothing was accepted.
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/members`), 200)).toMatchObject([{ status: 'invited' }]);
  });

  it('launch per user and per address', async () => {
    const gw = await gatewayWith({ rateLimit: true, rateLimits: rateLimitsWith({ launchPerUser: 4, launchPerIp: 7 }) });
    const team = await newTeam(gw, 1000);
    const a = await newMember(gw, team, ['autocad']);
    const b = await newMember(gw, team, ['autocad']);
    for (let i = 0; i < 4; i++) expectStatus(await a.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect429(await a.api.post('/v1/launch', { product: 'autocad' }), 'user a, fifth launch');
    // b has a bucket of its own, but the address's bucket (7) runs out after 3 more.
    for (let i = 0; i < 2; i++) expectStatus(await b.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect429(await b.api.post('/v1/launch', { product: 'autocad' }), 'the address, eighth launch');
    const metrics = (await gw.anon.get('/metrics')).body as string;
    expect(metrics).toMatch(/flexgate_launch_refusals_total\{code="too-many-requests"\} [1-9]/);
    expect(metrics).toMatch(/flexgate_rate_limited_total\{limit="launch-per-user"\} 1/);
  });

  it('the defaults never slow a real fleet: 200 users behind one address sign in and relaunch, one product relaunches 30 times', async () => {
    const defaults = loadConfig({});
    expect(defaults.rateLimit).toBe(true);
    const gw = await gatewayWith({ rateLimit: true, rateLimits: defaults.rateLimits });
    const team = await newTeam(gw, 100_000);
    const accounts: { autodeskId: string; password: string }[] = [];
    // Joined through an instance without limits: accepting an invitation draws on the sign-in
    // bucket of its address, and the sign-ins below are what this test measures.
    const setup = await startTestGateway({}, gw);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (accounts.length < 200) {
          const acc = await newAccount(setup);
          accounts.push(acc);
          await joinTeam(setup, team, acc, { allProducts: true });
        }
      }),
    );
    await setup.close();
    let refused = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < accounts.length; i += 8) {
          const acc = accounts[i] as { autodeskId: string; password: string };
          const s = await gw.anon.post('/v1/signin', acc);
          if (s.status !== 200) refused += 1;
          const api = gw.anon.as(s.body.token);
          for (const product of ['autocad', 'revit', 'autocad'])
            if ((await api.post('/v1/launch', { product })).status !== 200) refused += 1;
        }
      }),
    );
    expect(refused).toBe(0);
    const one = accounts[0] as { autodeskId: string; password: string };
    const api = gw.anon.as(expectStatus(await gw.anon.post('/v1/signin', one), 200).token);
    for (let i = 0; i < 30; i++) expectStatus(await api.post('/v1/launch', { product: 'maya' }), 200);
  }, 90_000);

  it('FLEXGATE_RATE_LIMIT=off removes every limit (load tests from one address)', async () => {
    expect(loadConfig({ FLEXGATE_RATE_LIMIT: 'off' }).rateLimit).toBe(false);
    expect(() => loadConfig({ FLEXGATE_RATE_SIGNIN_PER_USER: '0' })).toThrow(/FLEXGATE_RATE_SIGNIN_PER_USER/);
    expect(loadConfig({ FLEXGATE_RATE_LAUNCH_PER_USER: '5' }).rateLimits.launchPerUser).toBe(5);
    const gw = await gatewayWith({
      rateLimit: false,
      rateLimits: rateLimitsWith({ signinPerUser: 1, signinPerIp: 1, launchPerUser: 1, launchPerIp: 1 }),
    });
    const team = await newTeam(gw, 1000);
    const u = await newMember(gw, team, ['autocad']);
    for (let i = 0; i < 20; i++) expectStatus(await gw.anon.post('/v1/signin', { autodeskId: u.autodeskId, password: u.password }), 200);
    for (let i = 0; i < 20; i++) expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
  });
});

describe('sign-in timing and secrets in logs', () => {
  it('an unknown Autodesk ID and a wrong password take the same time (both pay one scrypt)', async () => {
    const gw = await gatewayWith({ scryptN: 16384 });
    // A different account each time: one account's repeated failures would make it wait (signin-guard.test.ts).
    const accounts = await Promise.all(Array.from({ length: 12 }, () => newAccount(gw)));
    const time = async (body: object) => {
      const t = performance.now();
      const r = await gw.anon.post('/v1/signin', body);
      expect(r.status).toBe(401);
      return performance.now() - t;
    };
    await time({ autodeskId: 'warm@example.com', password: 'x' });
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 12; i++) {
      unknown.push(await time({ autodeskId: `ghost${i}@example.com`, password: 'wrong-password' }));
      wrong.push(await time({ autodeskId: accounts[i]!.autodeskId, password: 'wrong-password' }));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ratio = median(unknown) / median(wrong);
    console.log(
      `sign-in timing: unknown ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`,
    );
    // Both are dominated by scrypt; without the dummy hash the unknown user would be ~20x faster.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('admin keys, passwords, the operator key and ID tokens never reach the logs, even at debug', async () => {
    const lines: string[] = [];
    const database = await freshDatabase();
    const operatorKey = `op_${randomBytes(16).toString('hex')}`;
    const config = testConfig({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: database.url,
      operatorKey,
      testClock: true,
      rateLimit: true,
      logLevel: 'debug',
      scryptN: 1024,
    });
    const { jsonLogger } = await import('../../gateway/src/lib/logger');
    const running = await startGateway(config, { logger: jsonLogger('debug', (l) => lines.push(l)) });
    try {
      const op = new Api(running.url, operatorKey);
      const anon = new Api(running.url);
      const gw = { op, anon } as unknown as TestGateway;
      await seedCatalog(gw);
      const team = await newTeam(gw, 100);
      const { key: adminKey } = expectStatus(
        await op.post('/v1/admins', { name: 'Logged admin', email: 'logged.admin@example.com', teams: [team] }),
        201,
      );
      const admin = { key: adminKey as string, api: anon.as(adminKey) };
      const password = `secret-${randomBytes(8).toString('hex')}`;
      const autodeskId = `logged.${randomBytes(3).toString('hex')}@example.com`;
      expectStatus(await op.post('/v1/users', { autodeskId, name: 'Logged', password }), 201);
      await joinTeam({ op, anon }, team, { autodeskId, password }, { products: ['autocad'] }, admin.api);
      expect((await anon.post('/v1/signin', { autodeskId, password: `${password}-wrong` })).status).toBe(401);
      const { token } = expectStatus(await anon.post('/v1/signin', { autodeskId, password }), 200);
      expectStatus(await anon.as(token).post('/v1/launch', { product: 'autocad' }), 200);
      expectStatus(await admin.api.get(`/v1/teams/${team}/balance`), 200);
      expect((await anon.as(`${admin.key}x`).get(`/v1/teams/${team}/balance`)).status).toBe(401);
      // An invitation: its token travels by e-mail, never through the logs.
      const inv = expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: 'Invited Person <invited@example.com>' }), 201);
      expect(inv.invitation.id).toBeTruthy();
      // ... nor when the invitee opens its page, answers it wrongly, then accepts it.
      const [mail] = expectStatus(await op.get('/v1/outbox?to=invited@example.com'), 200);
      const inviteToken = tokenOf(mail.text);
      const pageUrl = /^Link: (\S+)$/m.exec(mail.text)?.[1] as string;
      expect((await fetch(pageUrl)).status).toBe(200);
      const form = new URLSearchParams({ token: inviteToken, answer: 'accept', password: 'short', repeat: 'short', _csrf: 'forged' });
      const posted = await fetch(`${running.url}/console/invitations/accept`, {
        method: 'POST',
        body: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(posted.status).toBe(403);
      expectStatus(await anon.post('/v1/invitations/accept', { token: inviteToken, password: 'invited-password-1' }), 200);

      const all = lines.join('');
      expect(lines.length).toBeGreaterThan(10);
      for (const secret of [operatorKey, admin.key, password, token, token.split('.')[2] as string, inviteToken])
        expect(all).not.toContain(secret);
      for (const l of lines) JSON.parse(l); // every line is one JSON object
    } finally {
      await running.close();
      await database.drop();
    }
  });
});
