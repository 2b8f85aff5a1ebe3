/**
 * The usage rollups behind reports and advice are folded from the ledger after the fact
 * (db/repos/usage-fold.ts), by whoever reads them and by every instance in the background. Two
 * instances on one database (PostgreSQL in the PostgreSQL pass, one SQLite file otherwise):
 * launches, refunds, usage reports and advice, each read folding, all at once; every entry counts once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinTeam, newAccount, newTeam, setClock, signIn, type TestUser } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { type Instance, type InstanceGroup, startGroup, viaInstance, withConcurrency } from '../harness/instances';
import { usageFromLedger } from '../harness/usage';

let group: InstanceGroup;
let gws: TestGateway[];

beforeAll(async () => {
  group = await startGroup({ count: 2, env: { FLEXGATE_TEST_CLOCK: 'on' } });
  gws = group.instances.map((i: Instance) => viaInstance(i));
}, 90_000);
afterAll(async () => group?.close(), 60_000);

const at = (iso: string) => Promise.all(gws.map((gw) => setClock(gw, iso)));
const via = (i: number) => gws[i % gws.length] as TestGateway;

describe('the usage rollups, folded while launches, refunds and reads run on two instances', () => {
  it('R15: the reports and advice of either instance equal the ledger, each entry counted once, a refunded launch nowhere', async () => {
    await at('2025-05-12T09:00:00Z');
    // Free subscriptions: every pair with Flex use is listed, with its tokens and days.
    const products = await Promise.all(
      [3, 5].map(async (dailyRate) => {
        const key = `fold-${randomBytes(3).toString('hex')}`;
        expectStatus(await via(0).op.post('/v1/products', { key, name: `Fold ${key}`, dailyRate, subscriptionPricePerYear: 0 }), 201);
        return key;
      }),
    );
    const team = await newTeam(via(0));
    expectStatus(await via(0).op.post(`/v1/teams/${team}/purchases`, { tokens: 100_000, pricePerToken: 2 }), 201);
    const accounts = await withConcurrency(
      6,
      Array.from({ length: 24 }, (_, i) => async () => {
        const account = await newAccount(via(i), 'fold');
        await joinTeam(via(i), team, account, { products });
        return account;
      }),
    );

    // Two days of use, a day apart (yesterday's sessions have ended): every user launches both
    // products through one instance, a third of the second product's launches are ended at once
    // (R7a: refunded) through the other, and advice is read from both all along.
    for (const day of ['2025-05-12T09:00:00Z', '2025-05-14T09:00:00Z']) {
      await at(day);
      // Signed in that day: access tokens do not last two days.
      const users: TestUser[] = await withConcurrency(
        6,
        accounts.map((a, i) => () => signIn(via(i), a)),
      );
      let launching = true;
      // Four readers, two on each instance: folds of one team overlap, and must take turns.
      const reads = Promise.all(
        [0, 1, 2, 3].map(async (r) => {
          let n = 0;
          while (launching || n < 2) {
            const path = r < 2 ? `/v1/teams/${team}/advice` : `/v1/teams/${team}/usage?by=user&from=2025-05-01&to=2025-05-31`;
            expectStatus(await via(r).op.get(path), 200);
            n++;
          }
          return n;
        }),
      );
      await withConcurrency(
        16,
        users.flatMap((u, i) =>
          products.map((product, p) => async () => {
            const launched = expectStatus(await u.api.post('/v1/launch', { product, team }), 200);
            if (p === 1 && i % 3 === 0) {
              const other = via(i + 1).anon.as(u.api.token as string);
              expect(expectStatus(await other.post(`/v1/sessions/${launched.session.id}/end`), 200).refunded).toBe(launched.charged);
            }
          }),
        ),
      );
      launching = false;
      for (const n of await reads) expect(n).toBeGreaterThanOrEqual(2);
    }

    // In June, May is part of "last year": what each instance reports and advises must be the ledger's May.
    await at('2025-06-03T08:00:00Z');
    const entries = expectStatus(await via(0).op.get(`/v1/teams/${team}/ledger?limit=10000`), 200) as any[];
    const truth = new Map<string, { tokens: number; days: number }>();
    for (const e of entries) {
      if (e.kind !== 'charge' && e.kind !== 'refund') continue;
      const key = `${e.autodeskId} ${e.product}`;
      const cell = truth.get(key) ?? { tokens: 0, days: 0 };
      cell.tokens -= e.tokens;
      cell.days += e.kind === 'charge' ? 1 : -1;
      truth.set(key, cell);
    }
    const expected = new Map([...truth].filter(([, c]) => c.tokens > 0));
    expect(expected.size).toBe(40); // 24 users x 2 products, less the 8 refunded on both days
    for (const gw of gws) {
      const advice = expectStatus(await gw.op.get(`/v1/teams/${team}/advice`), 200);
      const listed = new Map(
        advice.flex.map((r: any) => [`${r.autodeskId} ${r.product}`, { tokens: r.tokensLastYear, days: r.daysLastYear }]),
      );
      expect(listed).toEqual(expected);
    }
    for (const gw of gws) {
      for (const by of ['day', 'user', 'product'] as const) {
        const report = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=${by}&from=2025-05-01&to=2025-05-31`), 200);
        expect(report.rows, `by=${by}`).toEqual(usageFromLedger(entries, by));
      }
    }
    // A user whose second product was refunded both days used it on no day.
    const refunded = (accounts[0] as { autodeskId: string }).autodeskId;
    expect(expected.get(`${refunded} ${products[1]}`)).toBeUndefined();
    expect(expected.get(`${refunded} ${products[0]}`)).toEqual({ tokens: 6, days: 2 });
  }, 120_000);
});
