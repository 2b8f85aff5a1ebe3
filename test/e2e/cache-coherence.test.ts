import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';

/**
 * Issue 7: the launch fast path keeps nothing about access in memory (only verified ID tokens),
 * so an admin change made through one instance takes effect at the next launch on every other
 * instance sharing the database. Two gateways on one database prove it.
 */
let a: TestGateway;
let b: TestGateway;
beforeAll(async () => {
  a = await startTestGateway();
  b = await startTestGateway({}, a);
  await seedCatalog(a);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const on = (gw: TestGateway, token: string) => new Api(gw.url, token);

describe('admin changes reach the next launch on every instance', () => {
  it('R12: products cleared on instance B refuse the next (warm) launch on instance A', async () => {
    const team = await newTeam(a, 100);
    const u = await newMember(a, team, ['autocad', 'revit']);
    const token = u.api.token as string;
    const first = expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200);
    expect(expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200).session.id).toBe(first.session.id);
    expectStatus(await b.op.put(`/v1/teams/${team}/members/${u.autodeskId}/products`, { allProducts: false, products: ['revit'] }), 200);
    const refused = await on(a, token).post('/v1/launch', { product: 'autocad' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('no-access');
  });

  it('R11: a member removed on instance B cannot launch on instance A, even with a session open', async () => {
    const team = await newTeam(a, 100);
    const u = await newMember(a, team, ['revit']);
    const token = u.api.token as string;
    expectStatus(await on(a, token).post('/v1/launch', { product: 'revit' }), 200);
    expectStatus(await b.op.delete(`/v1/teams/${team}/members/${u.autodeskId}`), 204);
    const refused = await on(a, token).post('/v1/launch', { product: 'revit' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('no-access');
  });

  it('R9: a subscription recorded on instance B wins over the open Flex session at the next launch on A', async () => {
    const team = await newTeam(a, 100);
    const u = await newMember(a, team, ['maya']);
    const token = u.api.token as string;
    expect(expectStatus(await on(a, token).post('/v1/launch', { product: 'maya' }), 200).source).toBe('flex');
    const endsAt = new Date(Date.now() + 30 * 86400_000).toISOString();
    expectStatus(await b.op.post('/v1/subscriptions', { autodeskId: u.autodeskId, product: 'maya', endsAt }), 201);
    const next = expectStatus(await on(a, token).post('/v1/launch', { product: 'maya' }), 200);
    expect(next).toMatchObject({ source: 'subscription', charged: 0 });
  });

  it('R7: a session opened through instance B is the one instance A answers with, charged once', async () => {
    const team = await newTeam(a, 100);
    const u = await newMember(a, team, ['civil-3d']);
    const token = u.api.token as string;
    const viaB = expectStatus(await on(b, token).post('/v1/launch', { product: 'civil-3d' }), 200);
    const viaA = expectStatus(await on(a, token).post('/v1/launch', { product: 'civil-3d' }), 200);
    expect(viaA).toMatchObject({ charged: 0, session: { id: viaB.session.id }, balance: 89 });
  });
});
