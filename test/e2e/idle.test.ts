/**
 * R7b, idle time is not charged: a heartbeat reports how long the product was idle (stretches of 15
 * minutes or more) and the session ends that much later, so an idle stretch does not bring the next
 * daily charge sooner. The gateway bounds what a client that always says "idle" can get.
 */
import { runProduct } from '@flexgate/client';
import { expect, it } from 'vitest';
import { clockedSuite } from '../harness/clocked-suite';
import { joinTeam, newAccount, newTeam, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted } from '../harness/launch-results';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// ID tokens outlive the clock jumps (their own expiry has tests elsewhere).
const suite = clockedSuite({ FLEXGATE_ID_TOKEN_TTL: String(7 * 86400) });
const { at, clock } = suite;

async function member() {
  const gw = suite.gw;
  const team = await newTeam(gw.fixtures(), 100);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products: ['autocad'] });
  const client = suite.client();
  await client.signIn(account.autodeskId, account.password);
  return client;
}

/** A member's AutoCAD session, opened at the clock's 0:00 and settled by a heartbeat at 0:06. */
async function settledSession() {
  const client = await member();
  const first = granted(await client.launch('autocad'));
  const sessionId = first.session?.id as string;
  await at(6 * MINUTE);
  granted(await client.heartbeat({ product: 'autocad', sessionId }));
  return { client, sessionId, end: Date.parse(first.sessionEnd as string) };
}

it('R7b: 30 idle minutes move the session end 30 minutes later; the next charge comes that much later', async () => {
  const t0 = await at(0);
  const { client, sessionId, end } = await settledSession();
  // Idle from 0:10 to 0:40, reported at 0:40 (the previous check-in was at 0:06).
  await at(40 * MINUTE);
  const idle = granted(await client.heartbeat({ product: 'autocad', sessionId, idleSeconds: 30 * 60 }));
  expect(Date.parse(idle.sessionEnd as string)).toBe(end + 30 * MINUTE);
  expect(Date.parse(idle.expiresAt)).toBe(Math.floor((end + 30 * MINUTE) / 1000) * 1000);
  // A stretch under 15 minutes counts for nothing.
  await at(50 * MINUTE);
  expect(Date.parse(granted(await client.heartbeat({ product: 'autocad', sessionId, idleSeconds: 14 * 60 })).sessionEnd as string)).toBe(
    end + 30 * MINUTE,
  );
  // 24 h 20 min after the start the day is still the one paid for; after 24 h 30 min a new one is charged.
  await at(t0.getTime() - Date.now() + 24 * HOUR + 20 * MINUTE);
  expect(granted(await client.launch('autocad', { fresh: true }))).toMatchObject({ charged: 0, session: { id: sessionId } });
  await at(24 * HOUR + 31 * MINUTE);
  const next = granted(await client.launch('autocad', { fresh: true }));
  expect(next.charged).toBe(7);
  expect(next.session?.id).not.toBe(sessionId);
});

it('R7b, a client that always says idle: each report reaches back at most 15 minutes before its previous check-in, and a session gains a day at most', async () => {
  await at(0);
  const { client, sessionId, end } = await settledSession();
  // Five minutes after the previous check-in it claims a week of idleness: 20 minutes count.
  await at(11 * MINUTE);
  const claimed = granted(await client.heartbeat({ product: 'autocad', sessionId, idleSeconds: 7 * 86400 }));
  // (The clocks run on between the test's steps: a few milliseconds more.)
  const moved = Date.parse(claimed.sessionEnd as string) - end;
  expect(moved).toBeGreaterThanOrEqual(20 * MINUTE);
  expect(moved).toBeLessThan(20 * MINUTE + 1000);
  // Hour after hour, "idle the whole time": the end never moves past a day beyond the paid one.
  let last = claimed;
  for (let h = 1; h <= 40; h++) {
    await at(11 * MINUTE + h * HOUR);
    last = granted(await client.heartbeat({ product: 'autocad', sessionId, idleSeconds: 7 * 86400 }));
  }
  // (Within a second: the answer's end comes from the entitlement, in whole seconds.)
  expect(Math.abs(Date.parse(last.sessionEnd as string) - (end + 24 * HOUR))).toBeLessThan(1000);
  expect(last.session?.id).toBe(sessionId);
});

it('R7b: the stock client reports an idle stretch with its heartbeat once it reaches 15 minutes', async () => {
  await at(0);
  const client = await member();
  const first = granted(await client.launch('autocad'));
  const end = Date.parse(first.sessionEnd as string);
  let idleSince: Date | null = null;
  const running = runProduct(client, 'autocad', first, { heartbeatMs: HOUR, idleSince: () => idleSince });
  await at(6 * MINUTE);
  await running.heartbeatNow();
  idleSince = clock.now();
  await at(26 * MINUTE);
  await running.heartbeatNow();
  expect(Date.parse(running.grant.sessionEnd as string)).toBe(end + 20 * MINUTE);
  await running.stop();
});

it('R7b: idle time claimed before the day is settled moves nothing: only a settled session ends later', async () => {
  await at(0);
  const client = await member();
  const first = granted(await client.launch('autocad'));
  const sessionId = first.session?.id as string;
  // Four minutes in, within the free window: 20 idle minutes claimed (the 4 since the launch plus
  // the 15 a stretch may reach back would allow 19 on a settled day) gain nothing, nor a longer entitlement.
  await at(4 * MINUTE);
  const claimed = granted(await client.heartbeat({ product: 'autocad', sessionId, idleSeconds: 20 * 60 }));
  expect(claimed.sessionEnd).toBe(first.sessionEnd);
  expect(claimed.expiresAt).toBe(first.expiresAt);
});

it('R7b: a heartbeat sent again with its Idempotency-Key (a retry) answers the same and moves the end once; the key with another request is refused', async () => {
  await at(0);
  const gw = suite.gw;
  const team = await newTeam(gw.fixtures(), 100);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products: ['autocad'] });
  const user = await signIn(gw.fixtures(), account);
  const first = expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }, { 'idempotency-key': 'launch-1' }), 200);
  const beat = (key: string, body: object) => user.api.post(`/v1/sessions/${first.session.id}/heartbeat`, body, { 'idempotency-key': key });
  await at(6 * MINUTE);
  expectStatus(await beat('settle', {}), 200);
  // Idle from 0:10 to 0:40, reported at 0:40; the answer lost, the same heartbeat sent twice more.
  await at(40 * MINUTE);
  const answers = [await beat('idle-1', { idleSeconds: 1800 }), await beat('idle-1', { idleSeconds: 1800 })];
  await at(41 * MINUTE);
  answers.push(await beat('idle-1', { idleSeconds: 1800 }));
  const bodies = answers.map((a) => JSON.stringify(expectStatus(a, 200)));
  expect(new Set(bodies).size).toBe(1);
  expect(Date.parse(expectStatus(answers[0] as (typeof answers)[0], 200).session.endsAt)).toBe(
    Date.parse(first.session.endsAt) + 30 * MINUTE,
  );
  // The end moved once: a heartbeat without idle time reads it.
  const now = expectStatus(await beat('plain', {}), 200);
  expect(now.session.endsAt).toBe(JSON.parse(bodies[0] as string).session.endsAt);
  // One key space for launches and heartbeats (docs/http.md): another request under a used key is a conflict.
  expect((await beat('idle-1', { idleSeconds: 3600 })).status).toBe(409);
  expect((await beat('launch-1', { idleSeconds: 1800 })).status).toBe(409);
});
