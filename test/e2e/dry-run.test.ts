/**
 * Asking before charging: `POST /v1/launch` with `dryRun: true` answers what the launch would do
 * (granted or the refusal, the source, the tokens it would charge, the balance after) and changes
 * nothing; explain says the same; the CLI asks on a terminal before a launch that charges.
 */
import { createClient } from '@flexgate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtFlexgate } from '../../client/src/testing/bundle';
import { runInTerminal } from '../../client/src/testing/terminal';
import { cacheDirs, type ProcessGateway, startProcessGateway } from '../harness/client-e2e';
import { balanceOf, joinTeam, ledgerOf, newAccount, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { trustOf } from '../harness/trust';

let gw: ProcessGateway;
let trust: string;
const dirs = cacheDirs();

beforeAll(async () => {
  gw = await startProcessGateway();
  trust = await trustOf(gw);
  await seedCatalog(gw.fixtures());
});
afterAll(async () => {
  await gw?.close();
  dirs.cleanup();
});

async function member(tokens: number, products = ['autocad', 'revit']) {
  const team = await newTeam(gw.fixtures(), tokens);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products });
  return { team, account, user: await signIn(gw.fixtures(), account) };
}

describe('dry-run launches', () => {
  it('R6: says a first launch would charge the daily rate and what would be left, and changes nothing', async () => {
    const { team, user } = await member(50);
    const ledger = await ledgerOf(gw.fixtures(), team);
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', dryRun: true }), 200);
    expect(dry).toMatchObject({ dryRun: true, granted: true, source: 'flex', team, charge: 7, balance: 50, balanceAfter: 43 });
    // Nothing was charged, no session opened, no entitlement signed.
    expect(await ledgerOf(gw.fixtures(), team)).toEqual(ledger);
    expect(await balanceOf(gw.fixtures(), team)).toBe(50);
    expect(dry).not.toHaveProperty('entitlement');
    // The launch then does what the dry run said; after it, a dry run says a relaunch is free (R7).
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ charged: 7, balance: 43 });
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad', dryRun: true }), 200)).toMatchObject({
      granted: true,
      charge: 0,
      balanceAfter: 43,
    });
  });

  it('R4: with too few tokens it says the launch would be refused, with the code the launch answers and the explain shows', async () => {
    const { team, account, user } = await member(5);
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'revit', dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: false, code: 'insufficient-tokens', rule: 'R4', charge: 0, balance: 5 });
    const launch = await user.api.post('/v1/launch', { product: 'revit' });
    expect(launch.body.code).toBe(dry.code);
    const explain = expectStatus(
      await gw.op.get(`/v1/teams/${team}/members/${encodeURIComponent(account.autodeskId)}/access`),
      200,
    ) as any[];
    expect(explain.find((e) => e.product === 'revit')).toMatchObject({ granted: false, code: 'insufficient-tokens', reason: dry.reason });
  });

  it('R9: a subscription holder is told the launch is covered by it: no team, no charge, nothing changes', async () => {
    const { team, account, user } = await member(50);
    const endsAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: account.autodeskId, product: 'revit', endsAt }), 201);
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'revit', dryRun: true }), 200);
    expect(dry).toMatchObject({ dryRun: true, granted: true, source: 'subscription', team: null, charge: 0, balance: null });
    expect(await balanceOf(gw.fixtures(), team)).toBe(50);
  });

  it('R4: exactly the daily rate left is enough: the dry run says the launch would leave 0', async () => {
    const { user } = await member(7);
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: true, source: 'flex', charge: 7, balance: 7, balanceAfter: 0 });
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ charged: 7, balance: 0 });
  });

  it('R9/R12: a refusal by access is said as the launch says it; a provisional report cannot be a dry run', async () => {
    const { user } = await member(50, ['autocad']);
    const dry = expectStatus(await user.api.post('/v1/launch', { product: 'maya', dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: false, code: 'no-access' });
    const bad = await user.api.post('/v1/launch', {
      product: 'autocad',
      dryRun: true,
      provisional: { id: 'prov-0000001', launchedAt: new Date().toISOString() },
    });
    expect(bad.status).toBe(400);
  });

  it('the client library previews; the CLI on a terminal asks before charging, and "n" launches nothing', async () => {
    const { team, account } = await member(50);
    const cacheDir = dirs.make();
    const client = createClient({ gatewayUrl: gw.url, trust, cacheDir });
    await client.signIn(account.autodeskId, account.password);
    expect(await client.preview('revit')).toMatchObject({ granted: true, charge: 10, balanceAfter: 40 });
    await client.close();
    const env = { ...process.env, FLEXGATE_URL: gw.url, FLEXGATE_TRUST: trust, FLEXGATE_CACHE_DIR: cacheDir };
    const bin = builtFlexgate();
    const no = await runInTerminal([bin, 'launch', 'revit'], env, 'Continue?', 'n\r');
    expect(no.screen).toMatch(/This will use 10 tokens of .+ \(40 left\)\. Continue\? \[y\/N\]/);
    expect(no.screen).toContain('Not launched: nothing was charged.');
    expect(no.code).toBe(3);
    expect(await balanceOf(gw.fixtures(), team)).toBe(50);
    const yes = await runInTerminal([bin, 'launch', 'revit'], env, 'Continue?', 'y\r');
    expect(yes.code).toBe(0);
    expect(await balanceOf(gw.fixtures(), team)).toBe(40);
    // --yes skips the question.
    const skip = await runInTerminal([bin, 'launch', 'autocad', '--yes'], env, 'nothing to wait for', '');
    expect(skip.code).toBe(0);
    expect(skip.screen).not.toContain('Continue?');
    expect(await balanceOf(gw.fixtures(), team)).toBe(33);
  });

  it('on a terminal, a member of two teams is asked about the team named with --team; an open day is not asked about', async () => {
    const { team, account } = await member(50, ['autocad']);
    const team2 = await newTeam(gw.fixtures(), 30);
    await joinTeam(gw, team2, account, { products: ['autocad'] });
    const cacheDir = dirs.make();
    const client = createClient({ gatewayUrl: gw.url, trust, cacheDir });
    await client.signIn(account.autodeskId, account.password);
    await client.close();
    const env = { ...process.env, FLEXGATE_URL: gw.url, FLEXGATE_TRUST: trust, FLEXGATE_CACHE_DIR: cacheDir };
    const bin = builtFlexgate();
    const no = await runInTerminal([bin, 'launch', 'autocad', '--team', team2], env, 'Continue?', 'n\r');
    expect(no.screen).toMatch(/This will use 7 tokens of .+ \(23 left\)\. Continue\? \[y\/N\]/);
    expect(no.code).toBe(3);
    const yes = await runInTerminal([bin, 'launch', 'autocad', '--team', team2], env, 'Continue?', 'y\r');
    expect(yes.code).toBe(0);
    expect([await balanceOf(gw.fixtures(), team), await balanceOf(gw.fixtures(), team2)]).toEqual([50, 23]);
    // The day is open: the relaunch charges nothing, so nothing is asked.
    const again = await runInTerminal([bin, 'launch', 'autocad', '--team', team2, '--fresh'], env, 'nothing to wait for', '');
    expect(again.code).toBe(0);
    expect(again.screen).not.toContain('Continue?');
    expect(again.screen).toMatch(/tokens charged: 0/);
  });
});
