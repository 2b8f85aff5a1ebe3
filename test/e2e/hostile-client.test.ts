/**
 * Issue 18's hostile clients, each against a real gateway PROCESS with the test clock and the real
 * client library (`createClient`), its files tampered with as a user who controls the machine
 * would. What such a client can get must be bounded by what the gateway signs, not by the client's
 * good will. The client's clock and the gateway's move together (SharedClock + POST /v1/test/clock).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient, type LaunchResult, type RunEvent, runProduct } from '@flexgate/client';
import { ENTITLEMENT_AUDIENCE } from '@flexgate/shared';
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, cacheDirs, ledger, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { expectStatus } from '../harness/http';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function granted(r: LaunchResult) {
  if (!r.granted || r.provisional) throw new Error(`expected a verified grant, got ${JSON.stringify(r)}`);
  return r;
}

describe('a hostile client, sessions', () => {
  let gw: ProcessGateway;
  const clock = new SharedClock();
  const dirs = cacheDirs();
  const clients: FlexgateClient[] = [];

  beforeAll(async () => {
    // ID tokens outlive the clock jumps (their own expiry has tests elsewhere).
    gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1', FLEXGATE_ID_TOKEN_TTL: String(7 * 86400) });
    await seedCatalog(gw.fixtures());
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    dirs.cleanup();
  });

  /** Moves the gateway's clock and the clients' together, to `at`; both keep running from there. */
  async function at(instant: Date): Promise<Date> {
    const now = clock.shift(instant.getTime() - Date.now());
    await gw.setClock(now);
    return now;
  }

  /** A member of `team` with `products`, and one signed-in client per machine, each with a cache of its own. */
  async function member(team: string, products: string[], machines: string[] = ['ws-1']) {
    const account = await newAccount(gw.fixtures());
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products }), 201);
    const on = [];
    for (const machine of machines) {
      const cacheDir = dirs.make();
      const client = createClient({
        gatewayUrl: gw.url,
        cacheDir,
        clock: clock.now,
        machine,
        http: { timeoutMs: 10_000, retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } },
      });
      clients.push(client);
      await client.signIn(account.autodeskId, account.password);
      on.push({ machine, client, cacheDir });
    }
    return { ...account, on };
  }

  /** Verifies an entitlement as any third party would: jose, the gateway's JWKS, at the test clock. */
  async function verifyAt(entitlement: string, now: Date) {
    const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
    return jwtVerify(entitlement, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
      audience: ENTITLEMENT_AUDIENCE,
      issuer: 'flexgate',
      currentDate: now,
    });
  }

  it('R7a, case 1: an entitlement kept after a refunded close dies 10 minutes after opening; the relaunch is charged', async () => {
    const t0 = await at(new Date(Date.now() + HOUR));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['revit']);
    const ws = u.on[0] as (typeof u.on)[number];
    const first = granted(await ws.client.launch('revit'));
    expect(first).toMatchObject({ charged: 10, balance: 40 });
    // The entitlement of a day not yet settled is a lease: 10 minutes from the start, not 24 hours.
    const kept = first.entitlement;
    const { payload } = await verifyAt(kept, t0);
    expect((payload.exp as number) * SECOND - Date.parse(first.session?.startsAt ?? '')).toBeLessThanOrEqual(10 * MINUTE);

    const running = runProduct(ws.client, 'revit', first, { heartbeatMs: HOUR });
    await at(new Date(t0.getTime() + 2 * MINUTE));
    expect(await running.stop()).toMatchObject({ reason: 'closed', ended: { charged: 0, refunded: 10 } });
    expect((await balance(gw, team)).balance).toBe(50);

    // The hostile part: the client keeps the JWS, and deletes `endedAt` from its cache file.
    const [file] = readdirSync(join(ws.cacheDir, 'entitlements'));
    const path = join(ws.cacheDir, 'entitlements', file as string);
    const record = JSON.parse(readFileSync(path, 'utf8'));
    expect(record.endedAt).toBeDefined();
    delete record.endedAt;
    writeFileSync(path, JSON.stringify(record));

    // Past the lease (and the client's 30 s allowance for skew) the kept JWS verifies nowhere...
    const later = await at(new Date(t0.getTime() + 11 * MINUTE));
    await expect(verifyAt(kept, later)).rejects.toBeInstanceOf(joseErrors.JWTExpired);
    // ...and the client, tampered cache and all, must ask the gateway: a new day, charged.
    const relaunch = granted(await ws.client.launch('revit'));
    expect(relaunch).toMatchObject({ fromCache: false, charged: 10, balance: 40 });
    expect(relaunch.session?.id).not.toBe(first.session?.id);
    const charges = (await ledger(gw, team)).filter((e) => e.kind === 'charge');
    expect(charges.map((e) => e.sessionId)).toEqual([first.session?.id, relaunch.session?.id]);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it('R7a, case 1: opening and closing within the window again and again is refunded once a day, not every time', async () => {
    const t0 = await at(new Date(Date.now() + 3 * HOUR));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['revit']);
    const ws = u.on[0] as (typeof u.on)[number];
    const first = granted(await ws.client.launch('revit'));
    await at(new Date(t0.getTime() + MINUTE));
    expect(await ws.client.end({ product: 'revit', sessionId: first.session?.id as string })).toMatchObject({ refunded: 10 });

    // A second quick close the same day: the session is closed but the day stays paid (and settled).
    await at(new Date(t0.getTime() + 20 * MINUTE));
    const second = granted(await ws.client.launch('revit', { fresh: true }));
    expect(second).toMatchObject({ charged: 10, balance: 40 });
    await at(new Date(t0.getTime() + 21 * MINUTE));
    expect(await ws.client.end({ product: 'revit', sessionId: second.session?.id as string })).toMatchObject({
      charged: 10,
      refunded: 0,
    });
    const third = granted(await ws.client.launch('revit', { fresh: true }));
    expect(third).toMatchObject({ charged: 0, balance: 40, session: { id: second.session?.id } });
    const end = Math.floor(Date.parse(second.session?.endsAt ?? '') / SECOND) * SECOND;
    expect(Date.parse(third.expiresAt)).toBe(end);

    // A day after the refund, a quick close is free again.
    await at(new Date(Date.parse(second.session?.endsAt ?? '') + MINUTE));
    const nextDay = granted(await ws.client.launch('revit', { fresh: true }));
    expect(nextDay).toMatchObject({ charged: 10, balance: 30 });
    await at(new Date(Date.parse(second.session?.endsAt ?? '') + 3 * MINUTE));
    expect(await ws.client.end({ product: 'revit', sessionId: nextDay.session?.id as string })).toMatchObject({ refunded: 10 });
    expect((await balance(gw, team)).balance).toBe(40);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it("R7a, case 2: one machine's quick close refunds nothing while another runs; the last machine's quick close refunds", async () => {
    const t0 = await at(new Date(Date.now() + 2 * 86_400_000));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['autocad'], ['ws-A', 'ws-B']);
    const [a, b] = u.on as [(typeof u.on)[number], (typeof u.on)[number]];

    const onA = granted(await a.client.launch('autocad'));
    expect(onA).toMatchObject({ charged: 7, balance: 43 });
    await at(new Date(t0.getTime() + 3 * SECOND));
    const onB = granted(await b.client.launch('autocad'));
    expect(onB).toMatchObject({ charged: 0, session: { id: onA.session?.id } });
    const runA = runProduct(a.client, 'autocad', onA, { heartbeatMs: HOUR });
    const eventsB: RunEvent[] = [];
    const runB = runProduct(b.client, 'autocad', onB, { heartbeatMs: HOUR, onEvent: (e) => eventsB.push(e) });

    // A closes at 8 s: B still uses the day, so nothing is refunded.
    await at(new Date(t0.getTime() + 8 * SECOND));
    expect(await runA.stop()).toMatchObject({ reason: 'closed', ended: { charged: 7, refunded: 0 } });
    expect((await balance(gw, team)).balance).toBe(43);

    // B's heartbeats keep working: the same session, nothing charged.
    await at(new Date(t0.getTime() + MINUTE));
    await runB.heartbeatNow();
    expect(eventsB.at(-1)).toMatchObject({ type: 'renewed', nextSession: false, grant: { charged: 0, session: { id: onA.session?.id } } });

    // B, the last machine, closes within the window: now the day is free.
    await at(new Date(t0.getTime() + 2 * MINUTE));
    expect(await runB.stop()).toMatchObject({ reason: 'closed', ended: { charged: 0, refunded: 7 } });
    expect((await balance(gw, team)).balance).toBe(50);
    const csv = await gw.op.get(`/v1/teams/${team}/usage?format=csv`);
    expect(String(csv.text).trim().split('\n')).toHaveLength(1); // the header: no day of use
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it('R7a, case 2: a machine that closes and comes back within the window keeps the day from being refunded by another', async () => {
    const t0 = await at(new Date(Date.now() + 4 * 86_400_000));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['autocad'], ['ws-A', 'ws-B']);
    const [a, b] = u.on as [(typeof u.on)[number], (typeof u.on)[number]];
    const onA = granted(await a.client.launch('autocad'));
    granted(await b.client.launch('autocad'));
    const session = onA.session?.id as string;
    await at(new Date(t0.getTime() + 30 * SECOND));
    expect(await a.client.end({ product: 'autocad', sessionId: session })).toMatchObject({ refunded: 0 });
    // A opens again (relaunched three times: whatever the gateway keeps warm is kept, then used).
    await at(new Date(t0.getTime() + MINUTE));
    for (let i = 0; i < 3; i++) {
      expect(granted(await a.client.launch('autocad', { fresh: true }))).toMatchObject({ charged: 0, session: { id: session } });
    }
    await at(new Date(t0.getTime() + 2 * MINUTE));
    expect(await b.client.end({ product: 'autocad', sessionId: session })).toMatchObject({ charged: 7, refunded: 0 });
    expect((await balance(gw, team)).balance).toBe(43);
    await at(new Date(t0.getTime() + 3 * MINUTE));
    expect(await a.client.end({ product: 'autocad', sessionId: session })).toMatchObject({ refunded: 7 });
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });

  it('R15, case 6: a session opened at 23:58 UTC and refunded at 00:01 leaves no negative day in the report, the CSV or the chart', async () => {
    const opened = await at(new Date('2031-01-14T23:58:00Z'));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['revit']);
    const ws = u.on[0] as (typeof u.on)[number];
    const first = granted(await ws.client.launch('revit'));
    expect(first).toMatchObject({ charged: 10, balance: 40 });
    await at(new Date('2031-01-15T00:01:00Z'));
    expect(await ws.client.end({ product: 'revit', sessionId: first.session?.id as string })).toMatchObject({ refunded: 10 });

    // The ledger keeps the true history: the refund is dated when it happened, the next day.
    const refund = (await ledger(gw, team)).find((e) => e.kind === 'refund');
    expect(refund?.at.slice(0, 10)).toBe('2031-01-15');
    expect(opened.toISOString().slice(0, 10)).toBe('2031-01-14');

    // Whole days (the daily rollups), an exact range (the ledger) and the summary's chart.
    for (const q of ['from=2031-01-14&to=2031-01-15', 'from=2031-01-14T12:00:00Z&to=2031-01-15T12:00:00Z']) {
      for (const by of ['day', 'user', 'product']) {
        const report = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=${by}&${q}`), 200);
        expect(report.rows, `${by} ${q}`).toEqual([]);
        expect(report.total).toEqual({ tokens: 0, sessions: 0 });
      }
      const csv = await gw.op.get(`/v1/teams/${team}/usage?format=csv&${q}`);
      expect(csv.status).toBe(200);
      expect(String(csv.text).trim().split('\n'), q).toHaveLength(1);
    }
    const summary = expectStatus(await gw.op.get(`/v1/teams/${team}/usage/summary`), 200);
    for (const d of summary.perDay) {
      expect(d.tokens, d.day).toBeGreaterThanOrEqual(0);
      expect(d.sessions, d.day).toBeGreaterThanOrEqual(0);
    }
    expect(summary.used).toBe(0);
    await expectLedgerMatchesBalance(gw.fixtures(), team);
  });
});
