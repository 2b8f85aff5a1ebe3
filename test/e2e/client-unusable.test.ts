/**
 * A launch the gateway charged for but the client cannot use (its entitlement refused on this
 * machine): the client closes the session at once, so that R7a refunds it, and says why it refused
 * in words a user can act on. Found trying the CLI as a user (session 51): a clock run ahead once, or
 * a wrong trust root, charged every launch and then refused it.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type FlexgateClient } from '@flexgate/client';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDirs, ledger, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { balanceOf, expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { granted, refused } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

const DAY = 86_400_000;
const dirs = cacheDirs();
const clients: FlexgateClient[] = [];
let gw: ProcessGateway;
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await gw?.close();
  dirs.cleanup();
});

async function member() {
  gw ??= await startProcessGateway();
  await seedCatalog(gw.fixtures());
  const team = await newTeam(gw.fixtures(), 100);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products: ['autocad', 'revit'] });
  return { team, account, cacheDir: dirs.make() };
}

const open = (client: FlexgateClient) => {
  clients.push(client);
  return client;
};

describe('a charged launch the client cannot use', () => {
  it('a machine clock run three days ahead once: refused naming the clock, the session ended and refunded (R7a)', async () => {
    const { team, account, cacheDir } = await member();
    const clock = new SharedClock();
    const client = open(createClient({ trust: await trustOf(gw), gatewayUrl: gw.url, cacheDir, clock: clock.now, machine: 'ws-ahead' }));
    await client.signIn(account.autodeskId, account.password);
    clock.shift(3 * DAY);
    const r = refused(await client.launch('autocad', { fresh: true }));
    expect(r.code).toBe('invalid-entitlement');
    expect(r.reason).toMatch(
      /The entitlement has expired\. This machine's time \(\S+\) is ahead of the gateway \(\S+\): set its clock right/,
    );
    expect(r.reason).toContain(`remove the cache folder (${cacheDir})`);
    expect(r.reason).toMatch(/was ended at once and its 7 tokens refunded\.$/);
    expect(await balanceOf(gw.fixtures(), team)).toBe(100);
    expect((await ledger(gw, team)).map((e) => [e.kind, e.tokens])).toEqual([
      ['purchase', 100],
      ['charge', -7],
      ['refund', 7],
    ]);

    // The clock set right: the client keeps the latest time it saw (floor.ts), so it still refuses;
    // R7a refunds one quick close a day per product, and the answer says this one stays charged.
    clock.shift(0);
    const again = refused(await client.launch('autocad', { fresh: true }));
    expect(again.reason).toMatch(
      /ended at once but not refunded \(R7a refunds one quick close a day per product\): 7 tokens stay charged\.$/,
    );
    // Removing the cache folder and signing in again, as the message says, ends it.
    await client.close();
    const { rmSync } = await import('node:fs');
    rmSync(cacheDir, { recursive: true, force: true });
    const fresh = open(createClient({ trust: await trustOf(gw), gatewayUrl: gw.url, cacheDir, clock: clock.now, machine: 'ws-ahead' }));
    await fresh.signIn(account.autodeskId, account.password);
    expect(granted(await fresh.launch('autocad', { fresh: true })).charged).toBe(0);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it('a trust root the gateway is not vouched by: refused as not vouched for, the session ended and refunded', async () => {
    const { team, account, cacheDir } = await member();
    const signedIn = open(createClient({ trust: await trustOf(gw), gatewayUrl: gw.url, cacheDir, machine: 'ws-trust' }));
    await signedIn.signIn(account.autodeskId, account.password);
    await signedIn.close();
    const other = randomBytes(32).toString('base64url');
    const client = open(createClient({ trust: other, gatewayUrl: gw.url, cacheDir, machine: 'ws-trust' }));
    const r = refused(await client.launch('revit', { fresh: true }));
    expect(r.reason).toMatch(/signed by a key the trust root does not vouch for .*was ended at once and its 10 tokens refunded\.$/);
    expect(await balanceOf(gw.fixtures(), team)).toBe(100);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });
});
