import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buy, newMember, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';

/**
 * Each instance keeps decided warm launches in memory (launch/warm.ts), and a warm launch
 * rechecks what its answer depends on whenever anything may have been committed since: the access
 * epoch (bumped by trigger on any access change), the session still open, and the balance. So an
 * admin change made through one instance takes effect at the next launch on every other instance
 * sharing the database. Two gateways on one database prove it; every test first makes A answer
 * from its cache (two launches), then changes through B.
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

  it('R13: team defaults withdrawn on instance B refuse the next warm launch on A', async () => {
    const team = await newTeam(a, 100);
    expectStatus(await b.op.put(`/v1/teams/${team}/defaults`, { products: ['3ds-max'] }), 200);
    const u = await newMember(a, team, []);
    const token = u.api.token as string;
    const first = expectStatus(await on(a, token).post('/v1/launch', { product: '3ds-max' }), 200);
    expect(expectStatus(await on(a, token).post('/v1/launch', { product: '3ds-max' }), 200).session.id).toBe(first.session.id);
    expectStatus(await b.op.put(`/v1/teams/${team}/defaults`, { products: [] }), 200);
    const refused = await on(a, token).post('/v1/launch', { product: '3ds-max' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'no-access', rule: 'R12' });
  });

  it("R7a: a session voided through instance B is not answered from A's memory; the next launch charges anew", async () => {
    const team = await newTeam(a, 100);
    const u = await newMember(a, team, ['autocad']);
    const token = u.api.token as string;
    const first = expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200);
    // Closed within 5 minutes: refunded and voided (R7a).
    expect(expectStatus(await on(b, token).post(`/v1/sessions/${first.session.id}/end`, {}), 200)).toMatchObject({
      refunded: first.charged,
    });
    const again = expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200);
    expect(again.session.id).not.toBe(first.session.id);
    expect(again.charged).toBe(first.charged);
    expect(again.balance).toBe(100 - first.charged);
  });

  it('R4/R5: the balance a warm launch on A answers includes what B charged a moment ago', async () => {
    const team = await newTeam(a, 100);
    const warm = await newMember(a, team, ['autocad']);
    const other = await newMember(a, team, ['revit']);
    const w = warm.api.token as string;
    const first = expectStatus(await on(a, w).post('/v1/launch', { product: 'autocad' }), 200);
    expect(expectStatus(await on(a, w).post('/v1/launch', { product: 'autocad' }), 200).balance).toBe(first.balance);
    const charged = expectStatus(await on(b, other.api.token as string).post('/v1/launch', { product: 'revit' }), 200);
    expect(charged.charged).toBeGreaterThan(0);
    expect(expectStatus(await on(a, w).post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({
      charged: 0,
      session: { id: first.session.id },
      balance: first.balance - charged.charged,
    });
  });

  it('R1/R2: a lot running out of time lowers the balance a warm launch answers, with nothing written in between', async () => {
    // With a second, fresh lot of 50, and then with none: the balance left is then 0, no lot at all.
    for (const fresh of [50, 0]) {
      const now = Date.now();
      for (const gw of [a, b]) await setClock(gw, new Date(now));
      const team = await newTeam(a);
      // Expires one hour from now (bought a year ago, less an hour).
      await buy(a, team, 30, new Date(now - 365 * 86400_000 + 3600_000).toISOString());
      if (fresh > 0) await buy(a, team, fresh);
      const u = await newMember(a, team, ['autocad']);
      const token = u.api.token as string;
      const first = expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200);
      // Relaunched after the free window (the first relaunch settles the day, R7a) and twice more: A
      // then answers from what it keeps warm, until something is committed or the lot expires.
      await setClock(a, new Date(now + 10 * 60_000));
      for (let i = 0; i < 3; i++) {
        expect(expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200).balance).toBe(30 + fresh - first.charged);
      }
      // R2 drew the charge from the expiring lot; two hours on, what is left of it no longer counts.
      await setClock(a, new Date(now + 2 * 3600_000));
      expect(expectStatus(await on(a, token).post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({
        session: { id: first.session.id },
        balance: fresh,
      });
    }
    for (const gw of [a, b]) await setClock(gw, new Date());
  });
});
