import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buy, ledgerOf, newAccount, newMember, newTeam, seedCatalog, signIn } from '../harness/fixtures';
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
