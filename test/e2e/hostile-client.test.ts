/**
 * Hostile clients, each against a real gateway PROCESS with the test clock and the real
 * client library (`createClient`), its files tampered with as a user who controls the machine
 * would. What such a client can get must be bounded by what the gateway signs, not by the client's
 * good will. The client's clock and the gateway's move together (SharedClock + POST /v1/test/clock).
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient, type LaunchResult, type ReconcileResult, type RunEvent, runProduct } from '@flexgate/client';
import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, KEY_SET_TYP, type LedgerEntry, newEd25519Pair } from '@flexgate/shared';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, cacheDirs, ledger, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, joinTeam, newAccount, newMember, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus, simultaneously } from '../harness/http';
import { type Instance, type InstanceGroup, startGroup, viaInstance } from '../harness/instances';
import { granted } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('a hostile client, sessions', () => {
  let trust: string;
  let gw: ProcessGateway;
  const clock = new SharedClock();
  const dirs = cacheDirs();
  const clients: FlexgateClient[] = [];

  beforeAll(async () => {
    // ID tokens outlive the clock jumps (their own expiry has tests elsewhere).
    gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1', FLEXGATE_ID_TOKEN_TTL: String(7 * 86400) });
    trust = await trustOf(gw);
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
    await joinTeam(gw, team, account, { products });
    const on = [];
    for (const machine of machines) {
      const cacheDir = dirs.make();
      const client = createClient({
        trust,
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

  it("R7a, case 2: a machine that joins after relaunches on another is recorded too: the first one's quick close refunds nothing", async () => {
    const t0 = await at(new Date(Date.now() + 3 * 86_400_000));
    const team = await newTeam(gw.fixtures(), 50);
    const u = await member(team, ['autocad'], ['ws-A', 'ws-B']);
    const [a, b] = u.on as [(typeof u.on)[number], (typeof u.on)[number]];
    const session = granted(await a.client.launch('autocad')).session?.id as string;
    // A relaunches three times (whatever the gateway keeps warm of A's answer is kept, then used)...
    for (let i = 0; i < 3; i++) {
      expect(granted(await a.client.launch('autocad', { fresh: true }))).toMatchObject({ charged: 0, session: { id: session } });
    }
    // ...then B launches within the window: the same day, in use on B as well.
    await at(new Date(t0.getTime() + 30 * SECOND));
    expect(granted(await b.client.launch('autocad'))).toMatchObject({ charged: 0, session: { id: session } });
    await at(new Date(t0.getTime() + MINUTE));
    expect(await a.client.end({ product: 'autocad', sessionId: session })).toMatchObject({ refunded: 0 });
    expect((await balance(gw, team)).balance).toBe(43);
    await at(new Date(t0.getTime() + 2 * MINUTE));
    expect(await b.client.end({ product: 'autocad', sessionId: session })).toMatchObject({ refunded: 7 });
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

describe('a hostile client, a close and a heartbeat timed across the free window', () => {
  // Two instances whose clocks stand on either side of the window's end: the close is decided
  // within it (a refund), the heartbeat after it (the day settled, an entitlement to its end). A
  // client that sends both at once must get one of the two, never the refund and the day.
  let group: InstanceGroup;
  beforeAll(async () => {
    group = await startGroup({ count: 2, env: { FLEXGATE_TEST_CLOCK: '1' } });
    await seedCatalog(viaInstance(group.instances[0] as Instance));
  }, 90_000);
  afterAll(async () => group?.close(), 60_000);

  it('R7a: a quick close and a heartbeat after the window, sent together on two instances: a refund and a 409, or the day and no refund', async () => {
    const [a, b] = group.instances.map(viaInstance) as [TestGateway, TestGateway];
    const team = await newTeam(a, 1_000);
    let paid = 0;
    for (let round = 0; round < 12; round++) {
      const start = new Date();
      for (const g of [a, b]) await setClock(g, start);
      const user = await newMember(a, team, ['autocad']); // a user of their own: one refund a day each
      const opened = expectStatus(await user.api.post('/v1/launch', { product: 'autocad', machine: 'ws-1' }), 200);
      expect(opened.charged).toBe(7);
      await setClock(a, new Date(start.getTime() + 4 * MINUTE));
      await setClock(b, new Date(start.getTime() + 6 * MINUTE));
      const [end, beat] = await simultaneously([
        {
          api: a.anon.as(user.api.token as string),
          method: 'POST',
          path: `/v1/sessions/${opened.session.id}/end`,
          body: { machine: 'ws-1' },
        },
        {
          api: b.anon.as(user.api.token as string),
          method: 'POST',
          path: `/v1/sessions/${opened.session.id}/heartbeat`,
          body: { machine: 'ws-1' },
        },
      ]);
      expect(end?.status, end?.text).toBe(200);
      if (end?.body.refunded > 0) {
        expect(beat?.status, `round ${round}: refunded, and the heartbeat answered ${beat?.text}`).toBe(409);
      } else {
        expect(beat?.status, beat?.text).toBe(200);
        expect(end?.body).toMatchObject({ charged: 7, refunded: 0 });
        // The day settled: an entitlement to the session's end, 24 hours after it opened.
        expect(decodeJwt(beat?.body.entitlement).exp).toBe(Math.floor(Date.parse(opened.session.endsAt) / 1000));
        paid++;
      }
    }
    expect(expectStatus(await b.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(1_000 - 7 * paid);
    await expectLedgerMatchesBalance(b, team);
  }, 90_000);
});

// In order: one outage, the client's attempts during it, then the report when the gateway is back.
describe('a hostile client, offline', { shuffle: false }, () => {
  let trust: string;
  let gw: ProcessGateway;
  const dirs = cacheDirs();
  const clients: FlexgateClient[] = [];
  const clock = new SharedClock();
  let dir: string;
  let account: { autodeskId: string; password: string };
  let team: string;
  /** The offline allowance the gateway issued at sign-in: its id, end and slots. */
  let allowance: { id: string; expiresAt: string; launches: number };
  let expMs: number;

  /** The product restarted: a new client on the same cache directory. */
  function restarted(): FlexgateClient {
    const client = createClient({
      trust,
      gatewayUrl: gw.url,
      cacheDir: dir,
      clock: clock.now,
      machine: 'hostile-workstation',
      http: { timeoutMs: 5000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } },
    });
    clients.push(client);
    return client;
  }
  /** What the reproduction deletes to get another provisional launch. */
  function wipeRecords(): void {
    rmSync(join(dir, 'provisional'), { recursive: true, force: true });
    rmSync(join(dir, 'state.json'), { force: true });
  }
  const allowanceFile = () => join(dir, 'allowance', readdirSync(join(dir, 'allowance'))[0] as string);
  const provisionalOf = (r: LaunchResult) => {
    if (!r.granted || !r.provisional) throw new Error(`expected a provisional launch, got ${JSON.stringify(r)}`);
    return r;
  };
  const refusalOf = (r: LaunchResult) => {
    if (r.granted) throw new Error(`expected a refusal, got ${JSON.stringify(r)}`);
    return r;
  };
  /** The client's clock at `at` (the gateway is down: only the client's clock matters). */
  const clientAt = (at: number) => clock.shift(at - Date.now());

  beforeAll(async () => {
    gw = await startProcessGateway({
      FLEXGATE_TEST_CLOCK: '1',
      FLEXGATE_OFFLINE_LAUNCHES: '3',
      // The reports come a day later; the sign-in's ID token must still be good then.
      FLEXGATE_ID_TOKEN_TTL: String(7 * 86400),
    });
    trust = await trustOf(gw);
    await seedCatalog(gw.fixtures());
    team = await newTeam(gw.fixtures(), 100);
    account = await newAccount(gw.fixtures(), 'mallory');
    await joinTeam(gw, team, account, { products: ['autocad', 'revit'] });
    dir = dirs.make();
    const client = restarted();
    await client.signIn(account.autodeskId, account.password);
    // Both products used on this machine before, each closed within 5 minutes (R7a, refunded):
    // nothing usable is cached, only proof of earlier grants.
    for (const product of ['autocad', 'revit']) {
      const r = await client.launch(product);
      if (!r.granted || r.provisional || !r.session) throw new Error(`online launch of ${product}: ${JSON.stringify(r)}`);
      expect(await client.end({ product, sessionId: r.session.id })).toMatchObject({ refunded: r.charged });
    }
    const offline = (await client.whoami()).offlineAllowance;
    if (offline) {
      allowance = offline;
      expMs = Date.parse(offline.expiresAt);
    }
    await gw.stop();
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    dirs.cleanup();
  });

  it('R6: deleting provisional/* and state.json gives back the same slot of the allowance, not another launch', async () => {
    const first = provisionalOf(await restarted().launch('autocad'));
    for (let i = 0; i < 5; i++) {
      wipeRecords();
      const again = provisionalOf(await restarted().launch('autocad'));
      // The same provisional id: reported, it is charged once however often it was granted.
      expect(again.provisionalId, `after deleting the records ${i + 1} times`).toBe(first.provisionalId);
    }
    expect(first.provisionalId).toBe(`${allowance.id}.0`);
    expect(Date.parse(first.expiresAt)).toBeLessThanOrEqual(expMs);
  });

  it('R12: never for a product the allowance does not list, files deleted or not', async () => {
    for (let i = 0; i < 2; i++) {
      const r = refusalOf(await restarted().launch('maya'));
      expect(r).toMatchObject({ code: 'gateway-unreachable', reason: expect.stringMatching(/maya is not in the offline allowance/) });
      wipeRecords();
    }
  });

  it('nothing without the allowance, and an edited allowance is no allowance', async () => {
    const file = allowanceFile();
    const genuine = readFileSync(file, 'utf8');
    const record = JSON.parse(genuine) as { allowance: string };
    const [h, p, s] = record.allowance.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    const reencoded = (c: object) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const own = newEd25519Pair().privateKey.export({ format: 'jwk' });
    const ownKey = await importJWK({ ...own, alg: 'EdDSA' }, 'EdDSA');
    const cached = readdirSync(join(dir, 'entitlements'))[0] as string;
    const forgeries: Record<string, string> = {
      'a year longer': `${h}.${reencoded({ ...claims, exp: claims.exp + 365 * 86400 })}.${s}`,
      'maya added': `${h}.${reencoded({ ...claims, products: [...claims.products, { product: 'maya', team: null }] })}.${s}`,
      '100 launches': `${h}.${reencoded({ ...claims, launches: 100 })}.${s}`,
      'signed by a key of its own': await new SignJWT({ ...claims, exp: claims.exp + 365 * 86400 })
        .setProtectedHeader(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')))
        .sign(ownKey),
      'an entitlement': JSON.parse(readFileSync(join(dir, 'entitlements', cached), 'utf8')).entitlement,
    };
    try {
      for (const [name, jws] of Object.entries(forgeries)) {
        writeFileSync(file, JSON.stringify({ ...record, allowance: jws }));
        wipeRecords();
        const r = refusalOf(await restarted().launch('autocad'));
        expect(r.reason, name).toMatch(/No offline allowance from the gateway/);
      }
      renameSync(file, `${file}.away`);
      wipeRecords();
      expect(refusalOf(await restarted().launch('autocad')).reason).toMatch(/No offline allowance from the gateway/);
      expect(existsSync(join(dir, 'provisional')) ? readdirSync(join(dir, 'provisional')) : []).toEqual([]);
      renameSync(`${file}.away`, file);
    } finally {
      writeFileSync(file, genuine);
    }
  });

  it('never past its exp: a launch at its last minute ends at exp, and after exp nothing, files deleted or not', async () => {
    clientAt(expMs - 60_000);
    wipeRecords();
    const last = provisionalOf(await restarted().launch('autocad'));
    expect(last.provisionalId).toBe(`${allowance.id}.0`);
    expect(last.expiresAt).toBe(allowance.expiresAt);
    const revit = provisionalOf(await restarted().launch('revit'));
    expect(revit).toMatchObject({ provisionalId: `${allowance.id}.1`, expiresAt: allowance.expiresAt });
    // Kept aside: the launches a client that reports after the outage has to report.
    const kept = join(dir, '..', 'kept-provisional');
    cpSync(join(dir, 'provisional'), kept, { recursive: true });

    for (const after of [0, 1000, HOUR, 3 * DAY]) {
      clientAt(expMs + after);
      for (const product of ['autocad', 'revit']) {
        const running = refusalOf(await restarted().launch(product));
        expect(running.reason, `${product} ${after} ms after exp`).toMatch(/offline allowance ended at/);
        wipeRecords();
        const wiped = refusalOf(await restarted().launch(product));
        expect(wiped.reason, `${product} ${after} ms after exp, records deleted`).toMatch(/offline allowance ended at/);
      }
    }
    cpSync(kept, join(dir, 'provisional'), { recursive: true });
  });

  describe('when reported, after the outage', () => {
    let result: ReconcileResult;
    let invented: string[];

    beforeAll(async () => {
      await gw.start();
      await gw.setClock(new Date(expMs + HOUR));
      clientAt(expMs + HOUR);
      // Records the client never granted, added by hand: a slot beyond the allowance's three, an
      // old-style random id, and an allowance the gateway never issued.
      const provisionalDir = join(dir, 'provisional');
      const prefix = (readdirSync(provisionalDir)[0] as string).split('__')[0];
      /** A record as the client writes one, put there by hand. */
      const record = (file: string, id: string, product: string, launchedAtMs: number) =>
        writeFileSync(
          join(provisionalDir, `${prefix}__${file}.json`),
          JSON.stringify({
            id,
            autodeskId: account.autodeskId,
            product,
            team,
            launchedAt: new Date(launchedAtMs).toISOString(),
            expiresAt: allowance.expiresAt,
          }),
        );
      invented = [`${allowance.id}.7`, randomUUID(), 'alw_invented00000000.0'];
      for (const [i, id] of invented.entries()) record(`invented-${i}`, id, 'autocad', expMs - 2 * HOUR);
      // A launch dated 40 hours back: past the 28 hours a report may come in, refused for good (400).
      record('too-old', `${allowance.id}.2`, 'autocad', expMs - 40 * HOUR);
      // And slot 0, already reported for AutoCAD, copied as a Revit launch: a second product for one slot.
      record('copied-slot', `${allowance.id}.0`, 'revit', expMs - 30_000);
    });

    it('R6/R7: the same slot reported by 8 requests at once is charged once', async () => {
      const { api } = await signIn(gw.fixtures(), account);
      const launchedAt = new Date(expMs - 60_000).toISOString();
      const answers = await simultaneously(
        Array.from({ length: 8 }, (_, i) => ({
          api,
          method: 'POST',
          path: '/v1/launch',
          body: { product: 'autocad', provisional: { id: `${allowance.id}.0`, launchedAt } },
          headers: { 'idempotency-key': `burst-${i}` },
        })),
      );
      for (const a of answers) expect(a.status, a.text).toBe(200);
      expect(answers.map((a) => a.body.charged).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 7]);
      expect(new Set(answers.map((a) => a.body.session.id)).size).toBe(1);
    });

    it('R6: each slot the client reports is charged once; invented slots are refused with a clear problem and dropped', async () => {
      result = await restarted().reconcile();
      expect(result.unreachable).toBe(false);
      expect(result.reported.map((r) => r.id).sort()).toEqual([`${allowance.id}.0`, `${allowance.id}.1`]);
      expect(result.rejected.map((r) => r.record.id).sort()).toEqual([...invented, `${allowance.id}.0`, `${allowance.id}.2`].sort());
      for (const r of result.rejected) {
        if (r.record.id === `${allowance.id}.2`) {
          // Dropped, not re-sent at every launch and listed as pending for ever.
          expect(r.code).toBe('invalid-request');
          expect(r.reason).toMatch(/too old: provisional launches must be reported within 28 hours/);
          continue;
        }
        if (r.record.product === 'revit') {
          // Its Idempotency-Key (the slot's id) was used for the AutoCAD report: a conflict, not a charge.
          expect(r.code).toBe('conflict');
          expect(r.reason).toContain(`${allowance.id}.0`);
          continue;
        }
        expect(r.code).toBe('offline-not-allowed');
        expect(r.reason).toMatch(/not made under an offline allowance|allows 3 provisional launches/);
      }
      expect(result.pending).toBe(0);
      expect(readdirSync(join(dir, 'provisional'))).toEqual([]);

      const entries = await ledger(gw, team);
      const provisionalCharges = entries.filter((e: LedgerEntry) => e.kind === 'charge' && /reported after an outage/.test(e.reason));
      expect(provisionalCharges.map((e) => [e.product, e.tokens]).sort()).toEqual([
        ['autocad', -7],
        ['revit', -10],
      ]);
      // Each dated when it ran, within the allowance.
      for (const e of provisionalCharges) {
        expect(Date.parse(e.at)).toBeGreaterThanOrEqual(expMs - 60_000);
        expect(Date.parse(e.at)).toBeLessThan(expMs);
      }
      // 100 bought; the two online days refunded (R7a); each provisional launch's day paid once.
      expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(83);
      await expectLedgerMatchesBalance(gw.fixtures(), team);
    });

    it('reports the client did not make: a slot past the launches, another product in a used slot, an unlisted product, another user', async () => {
      const { api } = await signIn(gw.fixtures(), account);
      const report = (product: string, id: string, launchedAt = new Date(expMs - 30 * 60_000).toISOString(), as = api) =>
        as.post('/v1/launch', { product, provisional: { id, launchedAt } }, { 'idempotency-key': `provisional-${id}-${product}` });
      const beyond = await report('autocad', `${allowance.id}.3`);
      expect(beyond.status).toBe(403);
      expect(beyond.headers.get('content-type')).toMatch(/problem\+json/);
      expect(beyond.body).toMatchObject({ code: 'offline-not-allowed', detail: expect.stringMatching(/allows 3 provisional launches/) });
      expect((await report('revit', `${allowance.id}.0`)).body).toMatchObject({ status: 409, code: 'conflict' });
      expect((await report('maya', `${allowance.id}.2`)).body).toMatchObject({
        status: 403,
        detail: expect.stringMatching(/does not list maya/),
      });
      expect((await report('autocad', `${allowance.id}.2`, new Date(expMs).toISOString())).body).toMatchObject({
        status: 403,
        detail: expect.stringMatching(/dated outside its offline allowance/),
      });
      const other = await newAccount(gw.fixtures(), 'eve');
      await joinTeam(gw, team, other, { products: ['autocad'] });
      const eve = await signIn(gw.fixtures(), other);
      expect((await report('autocad', `${allowance.id}.2`, undefined, eve.api)).body).toMatchObject({
        status: 403,
        detail: expect.stringMatching(/not made under an offline allowance/),
      });
      // Dated ahead of the gateway's clock: it ran by now at the latest, and now is past the
      // allowance. Reported more than 28 hours after it ran (4 hours of allowance plus a day
      // offline): refused as bad input, whatever the slot.
      const future = await report('autocad', `${allowance.id}.2`, new Date(expMs + HOUR + 2 * 60_000).toISOString());
      expect(future.body).toMatchObject({ status: 403, detail: expect.stringMatching(/dated outside its offline allowance/) });
      const ranAt = expMs - 30 * 60_000;
      await gw.setClock(new Date(ranAt + 28 * HOUR + 60_000));
      const late = await report('autocad', `${allowance.id}.2`, new Date(ranAt).toISOString());
      expect(late.body).toMatchObject({ status: 400, detail: expect.stringMatching(/too old/) });
      await gw.setClock(new Date(expMs + HOUR));
      // Nothing of that moved a token.
      expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(83);
      await expectLedgerMatchesBalance(gw.fixtures(), team);
    });
  });
});

describe('a hostile client, trust and time', () => {
  let gw: ProcessGateway;
  let trust: string;
  const dirs = cacheDirs();
  const clients: FlexgateClient[] = [];

  beforeAll(async () => {
    gw = await startProcessGateway();
    trust = await trustOf(gw);
    await seedCatalog(gw.fixtures());
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    dirs.cleanup();
  });

  /** The stock client as a product configures it: the gateway's root key embedded. */
  function clientOn(dir: string, clock = new SharedClock()): FlexgateClient {
    const client = createClient({
      gatewayUrl: gw.url,
      trust,
      cacheDir: dir,
      clock: clock.now,
      machine: 'hostile-workstation',
      http: { timeoutMs: 10_000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 100 } },
    });
    clients.push(client);
    return client;
  }

  /** A member of a fresh team with Flex access to `products`, signed in with the stock client. */
  async function member(products: string[], clock = new SharedClock()) {
    const team = await newTeam(gw.fixtures(), 100);
    const account = await newAccount(gw.fixtures());
    await joinTeam(gw, team, account, { products });
    const dir = dirs.make();
    const client = clientOn(dir, clock);
    await client.signIn(account.autodeskId, account.password);
    return { ...account, team, dir, client, clock };
  }

  function granted(r: LaunchResult) {
    if (!r.granted || r.provisional) throw new Error(`expected a verified grant, got ${JSON.stringify(r)}`);
    return r;
  }

  const entitlementFile = (dir: string, autodeskId: string, product: string) => join(dir, 'entitlements', `${autodeskId}__${product}.json`);

  it('case 4, R17: a key added to the cached key material, and Maya "by subscription, valid offline until 2100" signed with it, launches nothing', async () => {
    const u = await member(['autocad']);
    granted(await u.client.launch('autocad')); // the key material is now on disk

    // The intruder's own Ed25519 key, and the entitlement it signs.
    const intruder = newEd25519Pair();
    const publicJwk = { ...intruder.publicKey.export({ format: 'jwk' }), kid: 'intruder', alg: 'EdDSA', use: 'sig' };
    const signingKey = await importJWK({ ...intruder.privateKey.export({ format: 'jwk' }), alg: 'EdDSA' }, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      iss: 'flexgate',
      aud: ENTITLEMENT_AUDIENCE,
      sub: u.autodeskId,
      product: 'maya',
      productName: 'Maya',
      source: 'subscription',
      team: null,
      teamName: null,
      sid: null,
      iat: now,
      exp: Math.floor(Date.parse('2100-01-01T00:00:00Z') / 1000),
      jti: randomUUID(),
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'intruder', typ: ENTITLEMENT_TYP })
      .sign(signingKey);
    writeFileSync(
      entitlementFile(u.dir, u.autodeskId, 'maya'),
      JSON.stringify({
        autodeskId: u.autodeskId,
        product: 'maya',
        entitlement: forged,
        session: null,
        team: null,
        savedAt: new Date().toISOString(),
      }),
    );

    // Every way to slip the key into what the client keeps.
    const keySetPath = join(u.dir, 'keyset.json');
    const genuine = existsSync(keySetPath) ? JSON.parse(readFileSync(keySetPath, 'utf8')) : null;
    const tamperings: Record<string, () => Promise<void>> = {
      async 'jwks.json, as clients kept the JWKS before'() {
        const jwksPath = join(u.dir, 'jwks.json');
        const old = existsSync(jwksPath) ? JSON.parse(readFileSync(jwksPath, 'utf8')) : { gatewayUrl: gw.url, jwks: { keys: [] } };
        old.jwks.keys.push(publicJwk);
        writeFileSync(jwksPath, JSON.stringify(old));
      },
      async 'the key added to the cached key set (its signature kept)'() {
        const [h, p, s] = String(genuine?.keySet).split('.') as [string, string, string];
        const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
        payload.keys.push(publicJwk);
        writeFileSync(
          keySetPath,
          JSON.stringify({ ...genuine, keySet: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}` }),
        );
      },
      async "a key set signed by the intruder's own root, saved with that root"() {
        const keySet = await new SignJWT({ iss: 'flexgate', ver: 1_000_000, iat: now, keys: [publicJwk], revoked: [] })
          .setProtectedHeader({ alg: 'EdDSA', kid: 'intruder-root', typ: KEY_SET_TYP })
          .sign(signingKey);
        writeFileSync(keySetPath, JSON.stringify({ ...genuine, keySet, root: { kty: 'OKP', crv: 'Ed25519', x: publicJwk.x } }));
      },
    };
    for (const [name, tamper] of Object.entries(tamperings)) {
      await tamper();
      // A product started after the tampering: nothing of the earlier process is in memory.
      const restarted = clientOn(u.dir);
      const r = await restarted.launch('maya');
      // The cache offers nothing, so the gateway decides, and refuses as it does over HTTP.
      expect(r, name).toMatchObject({ granted: false, code: 'no-access' });
      expect(
        (await restarted.whoami()).entitlements.map((e) => e.product),
        name,
      ).not.toContain('maya');
    }
    const { api } = await signIn(gw.fixtures(), { autodeskId: u.autodeskId, password: u.password });
    expect((await api.post('/v1/launch', { product: 'maya' })).body).toMatchObject({ code: 'no-access' });
  });

  it("case 4, R17: an entitlement signed by a revoked key is refused after the client's next contact", async () => {
    const u = await member(['autocad', 'revit']);
    // Rotated once, so the ID token (older key) and the entitlement (newer key) differ in key.
    expectStatus(await gw.op.post('/v1/keys/rotate'), 200);
    const first = granted(await u.client.launch('autocad'));
    const leaked = decodeProtectedHeader(first.entitlement).kid as string;

    const revoked = expectStatus(await gw.op.post(`/v1/operator/signing-keys/${leaked}/revoke`), 200);
    expect(revoked).toMatchObject({ kid: leaked, activeKid: expect.any(String) });
    expect(revoked.activeKid).not.toBe(leaked);

    // Before any contact the client cannot know: the cache serves, with no network.
    expect(granted(await u.client.launch('autocad'))).toMatchObject({ fromCache: true });

    // Its next contact, about anything: the answer says the key set moved; the client fetches it.
    granted(await u.client.launch('revit'));
    expect((await u.client.whoami()).entitlements.map((e) => e.product)).toEqual(['revit']);
    // A product started now on the same files refuses it too, offline or not.
    expect((await clientOn(u.dir).whoami()).entitlements.map((e) => e.product)).toEqual(['revit']);

    // The day paid for is still usable: the gateway answers the same session, signed by a key in service.
    const again = granted(await u.client.launch('autocad'));
    expect(again).toMatchObject({ fromCache: false, charged: 0 });
    expect(again.session?.id).toBe(first.session?.id);
    expect(decodeProtectedHeader(again.entitlement).kid).toBe(revoked.activeKid);
    expect(decodeJwt(again.entitlement).jti).toBe(decodeJwt(first.entitlement).jti);
  });

  it('case 5, R7a/R17: a clock held behind does not stop time: offline, the lease of a running product ends 10 minutes on, and the allowance 24 hours on', async () => {
    // The machine's clock set two days back before launching; the time that passes on it is
    // measured by `monotonic` (a clock its user cannot set), moved by the test.
    const clock = new SharedClock();
    clock.shift(-2 * DAY);
    let elapsed = 0;
    const team = await newTeam(gw.fixtures(), 100);
    const account = await newAccount(gw.fixtures());
    await joinTeam(gw, team, account, { products: ['autocad'] });
    const client = createClient({
      gatewayUrl: gw.url,
      trust,
      cacheDir: dirs.make(),
      clock: clock.now,
      monotonic: () => elapsed,
      machine: 'hostile-workstation',
      http: { timeoutMs: 10_000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 100 } },
    });
    clients.push(client);
    await client.signIn(account.autodeskId, account.password);
    const first = granted(await client.launch('autocad'));
    expect(first).toMatchObject({ charged: 7, fromCache: false });
    const running = runProduct(client, 'autocad', first, { heartbeatMs: HOUR });
    const stillRunning = () => Promise.race([running.done, new Promise((r) => setTimeout(() => r('running'), 200))]);

    await gw.stop();
    try {
      // 11 minutes on, by the machine's own clock as much as by the monotonic one: the lease is over.
      elapsed = 11 * MINUTE;
      clock.shift(-2 * DAY + 11 * MINUTE);
      await running.heartbeatNow();
      expect(await stillRunning()).toMatchObject({ reason: 'entitlement-expired' });
      const relaunch = await client.launch('autocad');
      expect(relaunch.granted && !relaunch.provisional, JSON.stringify(relaunch)).toBe(false);
      // 25 hours on, the offline allowance is over too: nothing at all.
      elapsed = 25 * HOUR;
      clock.shift(-2 * DAY + 25 * HOUR);
      expect(await client.launch('autocad')).toMatchObject({ granted: false, reason: expect.stringMatching(/offline allowance ended/) });
    } finally {
      await gw.start();
    }
    // One day paid for, however long the clock was held.
    expect((await ledger(gw, team)).filter((e) => e.kind === 'charge').map((e) => e.tokens)).toEqual([-7]);
  });

  it('case 5: a clock wound back, with state.json (and every file a launch can do without) deleted, does not revive an expired entitlement', async () => {
    const clock = new SharedClock();
    const u = await member(['autocad'], clock);
    // A subscription ending in 2 hours: its entitlement expires then (R9).
    const endsAt = new Date(Date.now() + 2 * HOUR).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: u.autodeskId, product: 'maya', endsAt }), 201);
    const r = granted(await u.client.launch('maya'));
    expect(r.source).toBe('subscription');
    expect(Math.abs(Date.parse(r.expiresAt) - Date.parse(endsAt))).toBeLessThan(1000);

    await gw.stop();
    try {
      // Three hours later the client runs (any call): the entitlement is over.
      clock.shift(3 * HOUR);
      expect((await u.client.whoami()).entitlements).toEqual([]);

      // The clock wound back to within the entitlement's life, and every file deleted but those a
      // launch from the cache needs: the sign-in, the key material (keyset.json; jwks.json for
      // clients before it), the entitlement.
      clock.shift(30 * 60_000);
      const keep = new Set(['signin.json', 'keyset.json', 'jwks.json', join('entitlements', `${u.autodeskId}__maya.json`)]);
      const files = readdirSync(u.dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
      expect(files).toContain('state.json');
      for (const f of files) if (!keep.has(f)) rmSync(join(u.dir, f));

      const restarted = clientOn(u.dir, clock);
      expect((await restarted.whoami()).entitlements).toEqual([]);
      const relaunch = await restarted.launch('maya');
      expect(relaunch.granted && !relaunch.provisional, JSON.stringify(relaunch)).toBe(false);
    } finally {
      await gw.start();
    }
  });
});
