/**
 * A client whose files are in the hands of a user who wants more than was paid for, against a
 * real gateway PROCESS (stopped for the outage, started again on the same database and port).
 * The tests of each block run in order and share one story.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient, type LaunchResult, type ReconcileResult } from '@flexgate/client';
import type { LedgerEntry } from '@flexgate/shared';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs, ledger, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, newAccount, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import { expectStatus, simultaneously } from '../harness/http';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('a hostile client, offline', () => {
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
    await seedCatalog(gw.fixtures());
    team = await newTeam(gw.fixtures(), 100);
    account = await newAccount(gw.fixtures(), 'mallory');
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['autocad', 'revit'] }), 201);
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
    const own = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
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
      invented = [`${allowance.id}.7`, randomUUID(), 'alw_invented00000000.0'];
      for (const [i, id] of invented.entries()) {
        writeFileSync(
          join(provisionalDir, `${prefix}__invented-${i}.json`),
          JSON.stringify({
            id,
            autodeskId: account.autodeskId,
            product: 'autocad',
            team,
            launchedAt: new Date(expMs - 2 * HOUR).toISOString(),
            expiresAt: allowance.expiresAt,
          }),
        );
      }
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
      expect(result.rejected.map((r) => r.record.id).sort()).toEqual([...invented].sort());
      for (const r of result.rejected) {
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
      expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: other.autodeskId, products: ['autocad'] }), 201);
      const eve = await signIn(gw.fixtures(), other);
      expect((await report('autocad', `${allowance.id}.2`, undefined, eve.api)).body).toMatchObject({
        status: 403,
        detail: expect.stringMatching(/not made under an offline allowance/),
      });
      // Nothing of that moved a token.
      expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(83);
      await expectLedgerMatchesBalance(gw.fixtures(), team);
    });
  });
});
