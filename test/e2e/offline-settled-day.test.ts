/**
 * A day settled after the offline allowance was renewed. The allowance a launch renews (the kept one
 * an hour old, or not listing the product) is signed within the session's free 5 minutes, when the
 * day is deliberately not listed as paid (it may still be refunded, R7a). Once the day is settled
 * (a heartbeat or a close after the window), a relaunch through a team that cannot pay another day
 * is free online (R7); offline it must be too, without waiting an hour for the next renewal. The
 * real client against a real gateway PROCESS with the test clock (SharedClock + POST /v1/test/clock).
 */
import { describe, expect, it } from 'vitest';
import { balance, ledger } from '../harness/client-e2e';
import { clockedSuite } from '../harness/clocked-suite';
import { expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted, provisional } from '../harness/launch-results';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('offline, a day settled after the allowance was renewed in its free window', { shuffle: false }, () => {
  // ID tokens outlive the clock jumps (their own expiry has tests elsewhere).
  const suite = clockedSuite({ FLEXGATE_ID_TOKEN_TTL: String(7 * 86400) });
  const at = (instant: number): Promise<Date> => suite.at(instant - Date.now());

  /**
   * Signed in at 07:00 (AutoCAD listed: team A has 10 tokens), launched at 09:00 through A (a member of two teams names one), which
   * leaves 3. The allowance kept is two hours old, so the launch renews it, inside the free window:
   * AutoCAD is absent, as neither A nor B (no tokens) can pay a day and the day may still be refunded.
   */
  async function morning(t0: number) {
    await at(t0 - 2 * HOUR);
    const teamA = await newTeam(suite.gw.fixtures(), 10);
    const teamB = await newTeam(suite.gw.fixtures(), 0);
    const account = await newAccount(suite.gw.fixtures(), 'ada');
    await joinTeam(suite.gw, teamA, account, { products: ['autocad'] });
    await joinTeam(suite.gw, teamB, account, { products: ['autocad'] });
    const client = suite.client({ http: { timeoutMs: 5000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } } });
    await client.signIn(account.autodeskId, account.password);
    expect((await client.whoami()).offlineAllowance?.products).toEqual([{ product: 'autocad', team: teamA }]);
    await at(t0);
    const first = granted(await client.launch('autocad', { team: teamA }));
    expect(first).toMatchObject({ charged: 7, balance: 3, team: teamA });
    expect((await client.whoami()).offlineAllowance).toMatchObject({ products: [], paid: [] });
    const session = first.session as { id: string; startsAt: string; endsAt: string };
    const until = new Date(Math.floor(Date.parse(session.endsAt) / 1000) * 1000).toISOString();
    return { teamA, teamB, account, client, session, until };
  }

  /** What the ledger holds afterwards: the morning's one charge, nothing more. */
  async function chargedOnce(team: string, sessionId: string) {
    const charges = (await ledger(suite.gw, team)).filter((e) => e.kind === 'charge');
    expect(charges.map((e) => e.sessionId)).toEqual([sessionId]);
    expect((await balance(suite.gw, team)).balance).toBe(3);
    await expectLedgerMatchesBalance(suite.gw.fixtures(), team);
  }

  it('closed at 09:06, past the free window but before a heartbeat settled it: a relaunch offline at 09:30 is free, as online', async () => {
    const t0 = Date.now() + 3 * HOUR;
    const { teamA, client, session, until } = await morning(t0);
    // A heartbeat within the window (runProduct's first, at 09:05:00, still is) renews the lease
    // only; the product closes before the next: the close settles the day, the client holds a
    // lease that ends at 09:10.
    await at(t0 + 4 * MINUTE + 30_000);
    const lease = Date.parse(granted(await client.heartbeat({ product: 'autocad', sessionId: session.id })).expiresAt);
    expect(lease).toBeLessThanOrEqual(Date.parse(session.startsAt) + 10 * MINUTE);
    await at(t0 + 6 * MINUTE);
    expect(await client.end({ product: 'autocad', sessionId: session.id })).toMatchObject({ refunded: 0 });
    await at(t0 + 30 * MINUTE);
    await suite.gw.stop();
    let id: string;
    try {
      const relaunch = provisional(await client.launch('autocad', { team: teamA }));
      expect(relaunch).toMatchObject({ team: teamA });
      id = relaunch.provisionalId;
    } finally {
      await suite.gw.start();
    }
    // The close renewed the allowance: it lists the day through the teams that cannot pay another.
    const listed = (await client.whoami()).offlineAllowance;
    expect(listed?.products).toEqual([]);
    expect(listed?.paid).toContainEqual({ product: 'autocad', team: teamA, until });
    // Reported, it joins the day paid for: nothing more is charged (R7).
    await at(t0 + 40 * MINUTE);
    const result = await client.reconcile();
    expect(result).toMatchObject({ rejected: [], pending: 0, unreachable: false });
    expect(result.reported.map((r) => r.id)).toEqual([id]);
    await chargedOnce(teamA, session.id);
  });

  it('settled by a heartbeat at 09:07: offline at 09:30, a relaunch from the cache, and one through team B, are free, as online', async () => {
    const t0 = Date.now() + 2 * 24 * HOUR;
    const { teamA, teamB, account, client, session, until } = await morning(t0);
    const morningAllowance = (await client.whoami()).offlineAllowance?.id;
    await at(t0 + 7 * MINUTE);
    const beat = granted(await client.heartbeat({ product: 'autocad', sessionId: session.id }));
    expect(beat.expiresAt).toBe(until);
    // Once, not on every heartbeat: a later one finds the allowance kept signed after the window.
    const renewed = (await client.whoami()).offlineAllowance?.id;
    await at(t0 + 12 * MINUTE);
    granted(await client.heartbeat({ product: 'autocad', sessionId: session.id }));
    expect((await client.whoami()).offlineAllowance?.id).toBe(renewed);
    // Online, a launch naming team B joins the session for nothing (R7).
    const { api } = await signIn(suite.gw.fixtures(), account);
    const dry = expectStatus(await api.post('/v1/launch', { product: 'autocad', team: teamB, dryRun: true }), 200);
    expect(dry).toMatchObject({ granted: true, charge: 0 });
    await at(t0 + 30 * MINUTE);
    await suite.gw.stop();
    let id: string;
    try {
      // Through the team that paid, the settled entitlement cached by the heartbeat serves.
      expect(granted(await client.launch('autocad', { team: teamA }))).toMatchObject({ fromCache: true, team: teamA });
      const throughB = provisional(await client.launch('autocad', { team: teamB }));
      expect(throughB).toMatchObject({ team: teamB });
      id = throughB.provisionalId;
    } finally {
      await suite.gw.start();
    }
    // The settling heartbeat renewed the allowance (once): the day is listed through both teams.
    const listed = (await client.whoami()).offlineAllowance;
    expect(listed?.id).not.toBe(morningAllowance);
    expect(listed?.products).toEqual([]);
    expect(listed?.paid).toHaveLength(2);
    expect(listed?.paid).toEqual(
      expect.arrayContaining([
        { product: 'autocad', team: teamA, until },
        { product: 'autocad', team: teamB, until },
      ]),
    );
    await at(t0 + 40 * MINUTE);
    const result = await client.reconcile();
    expect(result).toMatchObject({ rejected: [], pending: 0, unreachable: false });
    expect(result.reported.map((r) => r.id)).toEqual([id]);
    await chargedOnce(teamA, session.id);
  });
});
