import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { buy, ledgerOf, newAccount, newMember, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

/**
 * What an admin found wrong, each fixed: explain agrees with the launch about tokens, a pending
 * invitation does not make a member pick a team, licences only for catalog products, dates that do
 * not exist are refused, the CSV is named by its last day, and the browser's icon exists.
 */
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

const access = async (team: string, autodeskId: string) =>
  expectStatus(await gw.op.get(`/v1/teams/${team}/members/${encodeURIComponent(autodeskId)}/access`), 200) as any[];

describe('explain and the launch agree (R4, R18)', () => {
  it('a team with 5 tokens: explain says Revit (10 a day) is not granted for want of tokens, as the launch does; with tokens it is', async () => {
    const team = await newTeam(gw, 5);
    const user = await newMember(gw, team, ['revit']);
    const revit = (await access(team, user.autodeskId)).find((e) => e.product === 'revit');
    expect(revit).toMatchObject({ granted: false, code: 'insufficient-tokens', rule: 'R4' });
    expect(revit.reason).toMatch(/5 tokens left/);
    const launch = await user.api.post('/v1/launch', { product: 'revit' });
    expect(launch.status).toBe(403);
    expect(launch.body.code).toBe('insufficient-tokens');
    await buy(gw, team, 10);
    expect((await access(team, user.autodeskId)).find((e) => e.product === 'revit')).toMatchObject({ granted: true, source: 'flex' });
    expectStatus(await user.api.post('/v1/launch', { product: 'revit' }), 200);
    // Its session is open: relaunching costs nothing, so explain grants it even with 5 tokens left.
    expect((await access(team, user.autodeskId)).find((e) => e.product === 'revit')).toMatchObject({ granted: true });
  });
});

describe('team choice (R11)', () => {
  it('active in team A with a pending invitation to team C, a member launches without naming a team, through A', async () => {
    const teamA = await newTeam(gw, 100);
    const teamC = await newTeam(gw, 100);
    const user = await newMember(gw, teamA, ['autocad']);
    expectStatus(
      await gw.op.post(`/v1/teams/${teamC}/members`, { invite: `Pending Person <${user.autodeskId}>`, products: ['autocad'] }),
      201,
    );
    const launch = expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(launch.team).toBe(teamA);
    // Naming team C still says why not.
    const viaC = await user.api.post('/v1/launch', { product: 'autocad', team: teamC });
    expect(viaC.body.code).toBe('invitation-pending');
  });
});

describe('licences only for catalog products (R9)', () => {
  it('a subscription or trial of a product not in the catalog is refused, and nothing is granted by it', async () => {
    const acc = await newAccount(gw);
    for (const kind of ['subscriptions', 'trials']) {
      const r = await gw.op.post(`/v1/${kind}`, { autodeskId: acc.autodeskId, product: 'photoshop', endsAt: '2099-01-01T00:00:00Z' });
      expect(r.status, kind).toBe(404);
      expect(r.body.code).toBe('unknown-product');
    }
    const user = await signIn(gw, acc);
    const launch = await user.api.post('/v1/launch', { product: 'photoshop' });
    expect(launch.status).toBe(404);
    expect(launch.body.code).toBe('unknown-product');
  });
});

describe('licences that end when or before they start (R9)', () => {
  it('are refused with a 400 that says so; a valid one is granted with an id that names its kind', async () => {
    const acc = await newAccount(gw);
    for (const kind of ['subscriptions', 'trials']) {
      for (const endsAt of ['2026-05-31T23:59:59Z', '2026-06-01T00:00:00Z']) {
        const r = await gw.op.post(`/v1/${kind}`, {
          autodeskId: acc.autodeskId,
          product: 'revit',
          startsAt: '2026-06-01T00:00:00Z',
          endsAt,
        });
        expect(r.status, `${kind} ${endsAt}`).toBe(400);
        expect(r.headers.get('content-type')).toContain('application/problem+json');
        expect(r.body.detail).toBe('endsAt must come after startsAt.');
      }
    }
    const sub = expectStatus(
      await gw.op.post('/v1/subscriptions', { autodeskId: acc.autodeskId, product: 'revit', endsAt: '2099-01-01T00:00:00Z' }),
      201,
    );
    const trial = expectStatus(
      await gw.op.post('/v1/trials', { autodeskId: acc.autodeskId, product: 'autocad', endsAt: '2099-01-01T00:00:00Z' }),
      201,
    );
    expect([sub.id.split('_')[0], sub.kind, trial.id.split('_')[0], trial.kind]).toEqual(['sub', 'subscription', 'trl', 'trial']);
  });
});

describe('dates that do not exist are refused, not rolled over', () => {
  it('purchasedAt 30 February buys nothing (400); usage from 30 February is a 400', async () => {
    const team = await newTeam(gw, 10);
    const before = await ledgerOf(gw, team);
    for (const purchasedAt of ['2026-02-30T00:00:00Z', '2026-04-31T12:00:00Z', '2026-03-15T24:00:00Z']) {
      const r = await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 50, purchasedAt });
      expect(r.status, purchasedAt).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.detail).toMatch(/calendar/);
    }
    expect(await ledgerOf(gw, team)).toEqual(before);
    for (const q of ['from=2026-02-30', 'to=2026-02-29', 'from=2026-13-01']) {
      const r = await gw.op.get(`/v1/teams/${team}/usage?${q}`);
      expect(r.status, q).toBe(400);
    }
    expectStatus(await gw.op.get(`/v1/teams/${team}/usage?from=2024-02-29&to=2024-03-01`), 200);
  });

  it('R1: purchasedAt more than a minute ahead of the gateway buys nothing (400); a clock a few seconds fast is fine', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    await setClock(gw, now);
    const team = await newTeam(gw, 10);
    const before = await ledgerOf(gw, team);
    for (const ahead of [90_000, 3_600_000, 86_400_000]) {
      const purchasedAt = new Date(now.getTime() + ahead).toISOString();
      const r = await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 50, purchasedAt });
      expect(r.status, purchasedAt).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.detail).toMatch(/future/);
    }
    expect(await ledgerOf(gw, team)).toEqual(before);
    const fast = new Date(now.getTime() + 20_000);
    const bought = expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 50, purchasedAt: fast.toISOString() }), 201);
    const yearOn = new Date(fast);
    yearOn.setUTCFullYear(fast.getUTCFullYear() + 1);
    expect(bought).toMatchObject({ purchasedAt: fast.toISOString(), expiresAt: yearOn.toISOString() });
  });
});

describe('invitation e-mails are bounded (R11, R14)', () => {
  it('a recipient gets at most 3 invitation e-mails a day, whichever teams send them; a day later one more', async () => {
    const email = `spammed.${Date.now()}@example.com`;
    const [t1, t2] = [await newTeam(gw, 10), await newTeam(gw, 10)];
    // The three e-mails at one whole second; the fourth asked half a second later.
    const sent = new Date(Math.floor(Date.now() / 1000) * 1000);
    await setClock(gw, sent);
    const first = expectStatus(await gw.op.post(`/v1/teams/${t1}/members`, { invite: `Spam Target <${email}>` }), 201);
    for (let i = 0; i < 2; i++) expectStatus(await gw.op.post(`/v1/teams/${t1}/invitations/${first.invitation.id}/resend`), 200);
    await setClock(gw, new Date(sent.getTime() + 500));
    const fourth = await gw.op.post(`/v1/teams/${t1}/invitations/${first.invitation.id}/resend`);
    expect(fourth.status).toBe(429);
    expect(fourth.body.code).toBe('too-many-requests');
    // Until the first e-mail's 24 hours are over: 86,399.5 s, rounded up.
    expect(fourth.headers.get('retry-after')).toBe('86400');
    // Another team, the same address: refused too, and nothing is left half-made (no pending member).
    const other = await gw.op.post(`/v1/teams/${t2}/members`, { invite: `Spam Target <${email}>` });
    expect(other.status).toBe(429);
    const members = expectStatus(await gw.op.get(`/v1/teams/${t2}/members`), 200) as any[];
    expect(members.some((m) => m.autodeskId === email)).toBe(false);
    const mails = expectStatus(await gw.op.get(`/v1/outbox?to=${encodeURIComponent(email)}`), 200) as any[];
    expect(mails.filter((m) => m.kind === 'invitation')).toHaveLength(3);
    await setClock(gw, new Date(Date.now() + 25 * 3600_000));
    expectStatus(await gw.op.post(`/v1/teams/${t2}/members`, { invite: `Spam Target <${email}>` }), 201);
    await setClock(gw, new Date());
  });

  it('an admin key sends at most FLEXGATE_RATE_INVITE_PER_ADMIN invitations a minute; another admin is not held back', async () => {
    const limited = await startTestGateway({
      rateLimit: true,
      rateLimits: {
        signinPerUser: 1000,
        signinPerIp: 1000,
        launchPerUser: 1000,
        launchPerIp: 1000,
        lookupPerAdmin: 1000,
        invitePerAdmin: 2,
        inviteBulkPerHour: 1000,
      },
    });
    try {
      await seedCatalog(limited);
      const team = await newTeam(limited, 10);
      const [a, b] = [await newAdmin(limited, [team]), await newAdmin(limited, [team])];
      for (let i = 0; i < 2; i++)
        expectStatus(await a.api.post(`/v1/teams/${team}/members`, { invite: `P${i} <p${i}.${Date.now()}@example.com>` }), 201);
      const third = await a.api.post(`/v1/teams/${team}/members`, { invite: `P3 <p3.${Date.now()}@example.com>` });
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Asking an existing account sends an invitation e-mail too: the same limit.
      const existing = await newAccount(limited);
      expect((await a.api.post(`/v1/teams/${team}/members`, { autodeskId: existing.autodeskId })).status).toBe(429);
      expectStatus(await b.api.post(`/v1/teams/${team}/members`, { invite: `Q <q.${Date.now()}@example.com>` }), 201);
    } finally {
      await limited.close();
    }
  });

  it('with rate limits turned off (FLEXGATE_RATE_LIMIT=off) an admin key is not held back either', async () => {
    const limits = {
      signinPerUser: 1,
      signinPerIp: 1,
      launchPerUser: 1,
      launchPerIp: 1,
      lookupPerAdmin: 1,
      invitePerAdmin: 2,
      inviteBulkPerHour: 1,
    };
    const unlimited = await startTestGateway({ rateLimit: false, rateLimits: limits });
    try {
      await seedCatalog(unlimited);
      const team = await newTeam(unlimited, 10);
      const a = await newAdmin(unlimited, [team]);
      for (let i = 0; i < 4; i++)
        expectStatus(await a.api.post(`/v1/teams/${team}/members`, { invite: `P${i} <p${i}.${Date.now()}@example.com>` }), 201);
    } finally {
      await unlimited.close();
    }
  });
});

describe('a product that is not in the catalog', () => {
  it('asking an existing account with it is refused, naming it, and nobody is asked', async () => {
    const team = await newTeam(gw, 10);
    const existing = await newAccount(gw);
    const r = await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: existing.autodeskId, products: ['autocad', 'autocadd'] });
    expect(r.status, r.text).toBe(404);
    expect(r.body).toMatchObject({ code: 'unknown-product', detail: 'Not in the catalog: autocadd.' });
    const members = expectStatus(await gw.op.get(`/v1/teams/${team}/members`), 200);
    expect(members.map((m: { autodeskId: string }) => m.autodeskId)).not.toContain(existing.autodeskId);
  });
});

describe('a team that does not exist', () => {
  it('an admin for a real team and a misspelt one is refused, naming it, and no admin is made', async () => {
    const team = await newTeam(gw);
    const email = `typo.${Math.random().toString(36).slice(2, 8)}@example.com`;
    const r = await gw.op.post('/v1/admins', { name: 'Typo', email, teams: [team, 'tm_nope'] });
    expect(r.status, r.text).toBe(404);
    expect(r.body.detail).toBe('No team tm_nope.');
    const trail = expectStatus(await gw.op.get(`/v1/teams/${team}/audit?action=admin.created`), 200);
    expect(trail.filter((e: { after: { email?: string } }) => e.after.email === email)).toEqual([]);
  });
});

describe('small things a browser and a spreadsheet notice', () => {
  it('the usage CSV from 2 November to 1 December is named by those two days', async () => {
    const team = await newTeam(gw, 10);
    const r = await gw.op.get(`/v1/teams/${team}/usage?from=2026-11-02&to=2026-12-01&format=csv`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="flex-usage-${team}-2026-11-02-2026-12-01.csv"`);
  });

  it('GET /favicon.ico answers an icon', async () => {
    const r = await gw.anon.get('/favicon.ico');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/svg+xml');
    expect(r.text).toContain('<svg');
  });
});
