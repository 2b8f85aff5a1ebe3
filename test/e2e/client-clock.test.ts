/**
 * The real client (`createClient`) on a machine whose clock is not the gateway's, and against a
 * gateway whose access tokens are short: it signs in, launches and renews its access token, and
 * never waits on itself. Each gateway is a real process with the test clock; the client's clock is
 * its own (SharedClock), moved with the gateway's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient } from '@flexgate/client';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDirs, ledger, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { granted } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

const SECOND = 1000;
const dirs = cacheDirs();
const clients: FlexgateClient[] = [];
const gateways: ProcessGateway[] = [];
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const g of gateways) await g.close();
  dirs.cleanup();
});

/** Settles with `work`, or fails after `ms`: a client waiting on itself never settles. */
function within<T>(work: Promise<T>, what: string, ms = 15 * SECOND): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
  ]);
}

/**
 * A gateway whose access tokens last `ttl` seconds, a member with Flex access to autocad, and the
 * client of a machine whose clock runs `aheadMs` ahead of the gateway's.
 */
async function setUp(ttl: number, aheadMs: number) {
  const gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1', FLEXGATE_ID_TOKEN_TTL: String(ttl) });
  gateways.push(gw);
  await seedCatalog(gw.fixtures());
  const t0 = new Date(Date.now() + 3600 * SECOND);
  await gw.setClock(t0);
  const clock = new SharedClock();
  clock.shift(t0.getTime() + aheadMs - Date.now());
  const team = await newTeam(gw.fixtures(), 50);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products: ['autocad'] });
  const cacheDir = dirs.make();
  const client = createClient({ trust: await trustOf(gw), gatewayUrl: gw.url, cacheDir, clock: clock.now, machine: 'ws-clock' });
  clients.push(client);
  const token = () => (JSON.parse(readFileSync(join(cacheDir, 'signin.json'), 'utf8')) as { token: string }).token;
  /** Both clocks `ms` later. */
  const later = async (ms: number) => {
    await gw.setClock(new Date(t0.getTime() + ms));
    clock.shift(t0.getTime() + ms + aheadMs - Date.now());
  };
  return { gw, team, account, client, token, later };
}

describe('the real client, its clock and the access token', () => {
  it('a machine whose clock runs 100 s ahead, 2-minute access tokens: signs in, launches, renews the token once near its end, is charged once', async () => {
    const { gw, team, account, client, token, later } = await setUp(120, 100 * SECOND);
    // By this machine's clock each new token has 20 s left, under the minute it renews ahead.
    await within(client.signIn(account.autodeskId, account.password), 'sign-in');
    const first = granted(await within(client.launch('autocad', { fresh: true }), 'launch'));
    expect(first).toMatchObject({ charged: 7, balance: 43 });
    const signedIn = token();
    // Not renewed at every request: the token keeps working until near its own end.
    granted(await within(client.launch('autocad', { fresh: true }), 'relaunch'));
    expect(token()).toBe(signedIn);
    // 100 s on, 20 s before the gateway's expiry: renewed before it is refused.
    await later(100 * SECOND);
    expect(granted(await within(client.launch('autocad', { fresh: true }), 'relaunch near the end'))).toMatchObject({ charged: 0 });
    expect(token()).not.toBe(signedIn);
    expect((await ledger(gw, team)).filter((e) => e.kind === 'charge')).toHaveLength(1);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it('a gateway with 60-second access tokens (FLEXGATE_ID_TOKEN_TTL=60), clocks that agree: signs in and launches, then renews past the first minute', async () => {
    const { gw, team, account, client, token, later } = await setUp(60, 0);
    await within(client.signIn(account.autodeskId, account.password), 'sign-in');
    expect(granted(await within(client.launch('autocad', { fresh: true }), 'launch'))).toMatchObject({ charged: 7 });
    const signedIn = token();
    for (const at of [50, 110, 300]) {
      await later(at * SECOND);
      expect(granted(await within(client.launch('autocad', { fresh: true }), `relaunch at ${at} s`))).toMatchObject({ charged: 0 });
      expect(token()).not.toBe(signedIn);
    }
    expect((await ledger(gw, team)).filter((e) => e.kind === 'charge')).toHaveLength(1);
  });

  it.each([
    ['in the last minute of the cached entitlement', 20],
    ['in the skew allowed past its exp', -12],
  ])('a relaunch %s asks the gateway and gets a longer one, not one that stops at once', async (_, secondsBeforeExp) => {
    const { gw, team, account, client, later } = await setUp(600, 0);
    await within(client.signIn(account.autodeskId, account.password), 'sign-in');
    const first = granted(await client.launch('autocad'));
    const exp = Date.parse(first.expiresAt);
    const start = Date.parse(first.session?.startsAt ?? '');
    // Well within its life the cache answers, with no request.
    await later(exp - start - 5 * 60 * SECOND);
    expect(granted(await client.launch('autocad'))).toMatchObject({ fromCache: true });
    await later(exp - start - secondsBeforeExp * SECOND);
    const relaunch = granted(await client.launch('autocad'));
    expect(relaunch).toMatchObject({ fromCache: false, charged: 0 });
    expect(Date.parse(relaunch.expiresAt)).toBeGreaterThan(exp + 60 * SECOND);
    expect((await ledger(gw, team)).filter((e) => e.kind === 'charge')).toHaveLength(1);
  });
});
