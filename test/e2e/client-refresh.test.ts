/**
 * Staying signed in with the stock client: access tokens of 10 minutes (the gateway's default),
 * renewed with the refresh token on their own, before expiry and on a 401, without the password;
 * two processes on one cache renewing at once both go on; a revoked or expired sign-in says so.
 * A real gateway PROCESS with the test clock; the client's clock moves with it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlexgateClient } from '@flexgate/client';
import { expect, it } from 'vitest';
import { clockedSuite } from '../harness/clocked-suite';
import { joinTeam, newAccount, newTeam } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted } from '../harness/launch-results';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// The default access-token lifetime (10 minutes): what this file is about.
const suite = clockedSuite();
const { at, clock } = suite;

function clientOn(cacheDir: string): FlexgateClient {
  return suite.client({ cacheDir, http: { timeoutMs: 10_000, retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 200 } } });
}

async function member(products = ['autocad', 'revit']) {
  const gw = suite.gw;
  const team = await newTeam(gw.fixtures(), 500);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products });
  const dir = suite.cacheDir();
  const client = clientOn(dir);
  await client.signIn(account.autodeskId, account.password);
  return { account, dir, client };
}

const signin = (dir: string) => JSON.parse(readFileSync(join(dir, 'signin.json'), 'utf8'));

it('hours after sign-in, a launch renews the access token on its own: no password, a new refresh token kept', async () => {
  await at(0);
  const { dir, client } = await member();
  const first = signin(dir);
  expect(first.refreshToken).toMatch(/^fgr_/);
  expect(Date.parse(first.expiresAt) - clock.now().getTime()).toBeLessThanOrEqual(10 * MINUTE + 1000);
  await at(3 * HOUR);
  granted(await client.launch('autocad', { fresh: true }));
  const second = signin(dir);
  expect(second.refreshToken).not.toBe(first.refreshToken);
  expect(second.token).not.toBe(first.token);
  expect(Date.parse(second.expiresAt)).toBeGreaterThan(clock.now().getTime());
  // A day later, again (each refresh returns the next refresh token).
  await at(27 * HOUR);
  granted(await client.launch('revit', { fresh: true }));
  expect(signin(dir).refreshToken).not.toBe(second.refreshToken);
});

it('an access token the gateway refuses (401) while it looked valid to the client is renewed once, and the launch sent again', async () => {
  await at(0);
  const { dir, client } = await member();
  // The client's copy says the token lives on; the gateway's clock says it expired an hour ago.
  const record = signin(dir);
  writeFileSync(join(dir, 'signin.json'), JSON.stringify({ ...record, expiresAt: new Date(Date.now() + 30 * DAY).toISOString() }));
  await at(HOUR);
  granted(await client.launch('autocad', { fresh: true }));
  expect(signin(dir).refreshToken).not.toBe(record.refreshToken);
});

it('two processes of one user renewing at once on one cache both launch, and the sign-in lives on', async () => {
  await at(0);
  const { dir, client } = await member();
  const other = clientOn(dir);
  await at(2 * HOUR);
  const [a, b] = await Promise.all([client.launch('autocad', { fresh: true }), other.launch('revit', { fresh: true })]);
  granted(a);
  granted(b);
  await at(4 * HOUR);
  granted(await other.launch('autocad', { fresh: true }));
});

it('a sign-in ended by the operator, or unused for 30 days, is refused with a clear reason; a new sign-in works', async () => {
  await at(0);
  const { account, client } = await member();
  await at(MINUTE);
  expectStatus(await suite.gw.op.post(`/v1/operator/users/${encodeURIComponent(account.autodeskId)}/revoke`, {}), 200);
  await at(2 * HOUR);
  expect(await client.launch('autocad', { fresh: true })).toMatchObject({ granted: false, code: 'unauthorized' });
  await client.signIn(account.autodeskId, account.password);
  granted(await client.launch('autocad', { fresh: true }));
  await at(2 * HOUR + 31 * DAY);
  const late = await client.launch('revit', { fresh: true });
  expect(late).toMatchObject({ granted: false, code: 'unauthorized' });
  if (!late.granted) expect(late.reason).toMatch(/sign in/i);
});
