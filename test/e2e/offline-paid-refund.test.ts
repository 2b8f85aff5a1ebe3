/**
 * R7a against the offline allowance's `paid` list: a day the allowance lists as paid must never be
 * refunded afterwards. Two instances on one database whose clocks stand on either side of the free
 * window's end (as in hostile-client.test.ts): one issues the allowance after the window, the
 * other takes a quick close within it. A client must get the listed day or the refund, never both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  balanceOf,
  expectLedgerMatchesBalance,
  joinTeam,
  ledgerOf,
  newAccount,
  newMember,
  newTeam,
  seedCatalog,
  setClock,
  signIn,
} from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus, simultaneously } from '../harness/http';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('a day listed under `paid` and a quick close, on two instances across the free window', () => {
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

  it('R7/R7a: once the allowance lists the day as paid, the close refunds nothing and a launch reported under it joins that day', async () => {
    const t0 = Date.now() + HOUR;
    for (const g of [a, b]) await setClock(g, new Date(t0));
    // AutoCAD (7) through a team of 10, leaving 3; a second team grants it with nothing to pay.
    const team = await newTeam(a, 10);
    const poor = await newTeam(a);
    const account = await newAccount(a);
    await joinTeam(a, team, account, { products: ['autocad'] });
    await joinTeam(a, poor, account, { products: ['autocad'] });
    const user = await signIn(a, account);
    const day = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', team, machine: 'ws-1' }), 200);
    expect(day).toMatchObject({ charged: 7, balance: 3 });

    // Instance b, past the window: the laptop's allowance lists the day as paid, through both teams.
    await setClock(b, new Date(t0 + 6 * MINUTE));
    const onB = b.anon.as(user.api.token as string);
    const allowance = expectStatus(await onB.post('/v1/offline-allowance', { machine: 'laptop' }), 201);
    expect(allowance.paid.map((p: { team: string }) => p.team).sort()).toEqual([team, poor].sort());

    // Instance a, its clock still within the window: the workstation's quick close.
    await setClock(a, new Date(t0 + 4 * MINUTE));
    const end = expectStatus(await user.api.post(`/v1/sessions/${day.session.id}/end`, { machine: 'ws-1' }), 200);
    expect(end, 'the allowance already listed this day as paid: no refund').toMatchObject({ charged: 7, refunded: 0 });

    // The laptop's offline launch within the listed day, reported through the team that cannot pay: R7, nothing more.
    for (const g of [a, b]) await setClock(g, new Date(t0 + 3 * HOUR));
    const report = await user.api.post(
      '/v1/launch',
      {
        product: 'autocad',
        team: poor,
        machine: 'laptop',
        provisional: { id: `${allowance.id}.0`, launchedAt: new Date(t0 + HOUR).toISOString() },
      },
      { 'idempotency-key': `provisional-${allowance.id}.0` },
    );
    expect(expectStatus(report, 200)).toMatchObject({ charged: 0, session: { id: day.session.id } });
    const kinds = (await ledgerOf(a, team)).map((e: { kind: string }) => e.kind);
    expect(kinds).not.toContain('refund');
  });

  it('R7a: the allowance and the quick close sent together, round after round: never a refunded day listed as paid', async () => {
    for (let round = 0; round < 10; round++) {
      const start = Date.now() + (2 + round) * HOUR;
      for (const g of [a, b]) await setClock(g, new Date(start));
      // A team of 10 each round, 3 left after the day: only a day already paid can be listed.
      const team = await newTeam(a, 10);
      const user = await newMember(a, team, ['autocad']);
      const day = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', machine: 'ws-1' }), 200);
      await setClock(a, new Date(start + 4 * MINUTE));
      await setClock(b, new Date(start + 6 * MINUTE));
      const token = user.api.token as string;
      const [end, issued] = await simultaneously([
        { api: a.anon.as(token), method: 'POST', path: `/v1/sessions/${day.session.id}/end`, body: { machine: 'ws-1' } },
        { api: b.anon.as(token), method: 'POST', path: '/v1/offline-allowance', body: { machine: 'laptop' } },
      ]);
      expect(end?.status, end?.text).toBe(200);
      expect(issued?.status, issued?.text).toBe(201);
      const refunded = end?.body.refunded > 0;
      expect(issued?.body.paid.length > 0 && refunded, `round ${round}: ${end?.text} ${issued?.text}`).toBe(false);
      expect(await balanceOf(b, team)).toBe(refunded ? 10 : 3);
      await expectLedgerMatchesBalance(b, team);
    }
  });
});
