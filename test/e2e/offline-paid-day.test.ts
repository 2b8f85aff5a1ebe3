/**
 * A day already paid for, offline: a product whose usage session is open when its team cannot pay
 * another day. Online, relaunching it within the session is free (R7); offline, the allowance the
 * gateway signed must let the client do the same, until the session ends and never past it. The
 * real client against a real gateway PROCESS with the test clock; the client's clock and the
 * gateway's move together (SharedClock + POST /v1/test/clock).
 */
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { balance, ledger } from '../harness/client-e2e';
import { clockedSuite } from '../harness/clocked-suite';
import { buy, expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted, provisional, refused } from '../harness/launch-results';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('offline, a day already paid for when the team cannot pay another', { shuffle: false }, () => {
  // ID tokens outlive the clock jumps (their own expiry has tests elsewhere).
  const suite = clockedSuite({ FLEXGATE_ID_TOKEN_TTL: String(7 * 86400) });

  /** Moves the gateway's clock (when it runs) and the clients' together, to `instant`. */
  const at = (instant: number): Promise<Date> => suite.at(instant - Date.now());

  /** A client on a machine of its own (its own cache directory), signed in now: the allowance comes with the sign-in. */
  async function machine(account: { autodeskId: string; password: string }, name: string) {
    const cacheDir = suite.cacheDir();
    const client = suite.client({
      cacheDir,
      machine: name,
      http: { timeoutMs: 5000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } },
    });
    await client.signIn(account.autodeskId, account.password);
    return { client, cacheDir };
  }

  /**
   * The morning: AutoCAD (7 a day) launched on the workstation through a team with 10 tokens, which
   * leaves 3, and settled by a relaunch after the free 5 minutes. Two hours on, the user signs in
   * on the laptop, which has never launched it: its allowance comes from a team that cannot pay a day.
   */
  async function paidDay(t0: number) {
    await at(t0);
    const team = await newTeam(suite.gw.fixtures(), 10);
    const account = await newAccount(suite.gw.fixtures(), 'ada');
    await joinTeam(suite.gw, team, account, { products: ['autocad'] });
    const ws = await machine(account, 'ws-1');
    const first = granted(await ws.client.launch('autocad'));
    expect(first).toMatchObject({ charged: 7, balance: 3 });
    await at(t0 + 6 * MINUTE);
    granted(await ws.client.launch('autocad', { fresh: true }));
    const session = first.session as { id: string; startsAt: string; endsAt: string };
    await at(t0 + 2 * HOUR);
    const laptop = await machine(account, 'laptop');
    return { team, account, session, endsAt: Date.parse(session.endsAt), ws, laptop };
  }

  it('R7: online, the laptop relaunches within the session for nothing; offline it may too, until the session ends', async () => {
    const t0 = Date.now() + HOUR;
    const { team, account, session, endsAt, laptop } = await paidDay(t0);
    // Online, a relaunch on the laptop would cost nothing (R7), as a dry run says.
    const { api } = await signIn(suite.gw.fixtures(), account);
    const dry = expectStatus(await api.post('/v1/launch', { product: 'autocad', dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: true, team, charge: 0, balance: 3 });
    const until = new Date(Math.floor(endsAt / 1000) * 1000).toISOString();
    expect((await laptop.client.whoami()).offlineAllowance).toMatchObject({ products: [], paid: [{ product: 'autocad', team, until }] });
    const ids: string[] = [];
    await suite.gw.stop();
    try {
      // The network drops: the laptop holds no entitlement, only the allowance of its sign-in.
      const first = provisional(await laptop.client.launch('autocad'));
      expect(first).toMatchObject({ team });
      expect(Date.parse(first.expiresAt) - Date.parse(first.launchedAt)).toBe(4 * HOUR);
      // An hour before the session ends a new provisional launch runs for that hour, not 4.
      await at(endsAt - HOUR);
      const last = provisional(await laptop.client.launch('autocad'));
      expect(last.provisionalId).not.toBe(first.provisionalId);
      // The session's end as signed: in whole seconds, never later.
      expect(Date.parse(last.expiresAt)).toBe(Math.floor(endsAt / 1000) * 1000);
      ids.push(first.provisionalId, last.provisionalId);
      const kept = join(laptop.cacheDir, '..', 'kept-provisional');
      cpSync(join(laptop.cacheDir, 'provisional'), kept, { recursive: true });
      // From the session's end, nothing: another day would have to be paid for, files deleted or not.
      for (const after of [0, MINUTE, 3 * HOUR]) {
        await at(endsAt + after);
        expect(refused(await laptop.client.launch('autocad')).code).toBe('gateway-unreachable');
        rmSync(join(laptop.cacheDir, 'provisional'), { recursive: true, force: true });
        rmSync(join(laptop.cacheDir, 'state.json'), { force: true });
        const wiped = refused(await laptop.client.launch('autocad'));
        expect(wiped.reason, `${after} ms after the session's end`).toMatch(/ended at|paid for/);
      }
      cpSync(kept, join(laptop.cacheDir, 'provisional'), { recursive: true });
    } finally {
      await suite.gw.start();
    }
    // Reported, the provisional launches charge nothing: they ran within the day paid for (R7).
    await at(endsAt + 3 * HOUR);
    const result = await laptop.client.reconcile();
    expect(result).toMatchObject({ rejected: [], pending: 0, unreachable: false });
    expect(result.reported.map((r) => r.id).sort()).toEqual(ids.sort());
    const charges = (await ledger(suite.gw, team)).filter((e) => e.kind === 'charge');
    expect(charges.map((e) => e.sessionId)).toEqual([session.id]);
    expect((await balance(suite.gw, team)).balance).toBe(3);
    await expectLedgerMatchesBalance(suite.gw.fixtures(), team);
    expect(readdirSync(join(laptop.cacheDir, 'provisional'))).toEqual([]);
  });

  it('R4: tokens bought while the laptop is away change nothing offline: the day paid for ends with its session; back online the next day is charged', async () => {
    const t0 = Date.now() + 3 * 24 * HOUR;
    const { team, session, endsAt, laptop } = await paidDay(t0);
    // Topped up while the laptop does not talk to the gateway: its allowance knows nothing of it.
    await buy(suite.gw.fixtures(), team, 50);
    await suite.gw.stop();
    try {
      await at(endsAt - 30 * MINUTE);
      const last = provisional(await laptop.client.launch('autocad'));
      expect(Date.parse(last.expiresAt)).toBe(Math.floor(endsAt / 1000) * 1000);
      await at(endsAt + MINUTE);
      const after = refused(await laptop.client.launch('autocad'));
      expect(after.reason).toMatch(/already paid for ended at/);
    } finally {
      await suite.gw.start();
    }
    // Online again: the provisional launch joins the day paid for, and the next day is charged now.
    await at(endsAt + 2 * MINUTE);
    const next = granted(await laptop.client.launch('autocad'));
    expect(next).toMatchObject({ charged: 7, balance: 46 });
    expect(next.session?.id).not.toBe(session.id);
    // The next day drawn from the 3 tokens left, then the lot bought (R2): two entries, one session.
    const charges = (await ledger(suite.gw, team)).filter((e) => e.kind === 'charge');
    expect([...new Set(charges.map((e) => e.sessionId))]).toEqual([session.id, next.session?.id]);
    // Its new allowance lists AutoCAD for the whole allowance again: the team can pay a day.
    expect((await laptop.client.whoami()).offlineAllowance).toMatchObject({ products: [{ product: 'autocad', team }], paid: [] });
    await expectLedgerMatchesBalance(suite.gw.fixtures(), team);
  });

  it('R12: access removed meanwhile: the laptop, which cannot know, launches; the report is refused as a relaunch would be, and the allowance drops it', async () => {
    const t0 = Date.now() + 6 * 24 * HOUR;
    const { team, account, session, ws, laptop } = await paidDay(t0);
    expectStatus(await suite.gw.op.put(`/v1/teams/${team}/members/${account.autodeskId}/products`, { products: [] }), 200);
    await suite.gw.stop();
    try {
      // What the gateway signed before the change stands offline, as an entitlement handed out does.
      await at(t0 + 3 * HOUR);
      provisional(await laptop.client.launch('autocad'));
    } finally {
      await suite.gw.start();
    }
    await at(t0 + 4 * HOUR);
    // The change applies to the next launch (R12): the report is refused and dropped, nothing charged.
    const result = await laptop.client.reconcile();
    expect(result.reported).toEqual([]);
    expect(result.rejected.map((r) => r.code)).toEqual(['no-access']);
    // The product already running on the workstation keeps the day paid for: heartbeats are not checked again.
    const beat = await ws.client.heartbeat({ product: 'autocad', sessionId: session.id });
    expect(beat).toMatchObject({ granted: true, charged: 0 });
    // A relaunch on the laptop is refused online, and takes the product out of the allowance it kept.
    expect(await laptop.client.launch('autocad')).toMatchObject({ granted: false, code: 'no-access' });
    expect((await laptop.client.whoami()).offlineAllowance).toMatchObject({ products: [], paid: [] });
    await suite.gw.stop();
    try {
      const offline = refused(await laptop.client.launch('autocad'));
      expect(offline.reason).toMatch(/autocad is not in the offline allowance/);
    } finally {
      await suite.gw.start();
    }
    const charges = (await ledger(suite.gw, team)).filter((e) => e.kind === 'charge');
    expect(charges.map((e) => e.sessionId)).toEqual([session.id]);
    await expectLedgerMatchesBalance(suite.gw.fixtures(), team);
  });
});
