/**
 * The real client against a real gateway PROCESS that this suite stops and starts again on the
 * same database: the offline cache (R17), forged entitlements, expiry, and provisional launches
 * during an outage under the offline allowance the gateway signed at sign-in. The tests run in
 * order: the ones inside "gateway process stopped" share one outage.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createClient,
  createKeyStore,
  createVerifier,
  EntitlementRejected,
  type FlexgateClient,
  type RunningProduct,
  runProduct,
} from '@flexgate/client';
import { ENTITLEMENT_TYP, newEd25519Pair } from '@flexgate/shared';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs, ledger, type ProcessGateway, runFlexgate, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

const HOUR = 3600_000;
let gw: ProcessGateway;
let trust: string;
const dirs = cacheDirs();
const clients: FlexgateClient[] = [];

interface Person {
  autodeskId: string;
  password: string;
  team: string;
  dir: string;
  client: FlexgateClient;
  clock: SharedClock;
}

function newClient(dir: string, clock: SharedClock): FlexgateClient {
  const client = createClient({
    gatewayUrl: gw.url,
    trust,
    cacheDir: dir,
    clock: clock.now,
    machine: 'e2e-workstation',
    // Short backoff: an outage is found out in well under a second.
    http: { timeoutMs: 10_000, retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } },
  });
  clients.push(client);
  return client;
}

/**
 * A member of a fresh team with `tokens`, Flex access to autocad, signed in with the real client;
 * also a member of `alsoIn` with the same access, joined before signing in.
 */
async function person(tokens: number, alsoIn: string[] = []): Promise<Person> {
  const team = await newTeam(gw.fixtures(), tokens);
  const account = await newAccount(gw.fixtures());
  for (const t of [team, ...alsoIn]) await joinTeam(gw, t, account, { products: ['autocad'] });
  const dir = dirs.make();
  const clock = new SharedClock();
  const client = newClient(dir, clock);
  await client.signIn(account.autodeskId, account.password);
  return { ...account, team, dir, client, clock };
}

async function gatewayAnswers(): Promise<boolean> {
  try {
    await fetch(`${gw.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

let alice: Person;
let firstSession: string;

beforeAll(async () => {
  // The test clock: the reports after the outage come from a client whose clock ran 4 hours on.
  gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1' });
  trust = await trustOf(gw);
  await seedCatalog(gw.fixtures());
  alice = await person(50);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await gw?.close();
  dirs.cleanup();
});

// In order: Alice's first launch, then one outage of the gateway's process and its restart.
describe('the real client against a gateway that goes down', { shuffle: false }, () => {
  it('R6/R17: a granted Flex launch through the real client is verified and cached on disk (0600)', async () => {
    const r = granted(await alice.client.launch('autocad'));
    expect(r).toMatchObject({ provisional: false, source: 'flex', charged: 7, balance: 43, fromCache: false, team: alice.team });
    expect(r.claims).toMatchObject({ sub: alice.autodeskId, product: 'autocad', source: 'flex', team: alice.team });
    expect(r.claims.sid).toBe(r.session?.id);
    firstSession = r.session?.id as string;
    const files = readdirSync(join(alice.dir, 'entitlements'));
    expect(files).toHaveLength(1);
    expect(statSync(join(alice.dir, 'entitlements', files[0] as string)).mode & 0o777).toBe(0o600);
  });

  it('R17: forged entitlements fed through the client verifier against the real key set are all rejected', async () => {
    let keySetFetches = 0;
    const keys = createKeyStore({
      trust,
      issuer: 'flexgate',
      async fetchKeySet() {
        keySetFetches++;
        return expectStatus(await gw.anon.get('/.well-known/flexgate-keys'), 200);
      },
      fetchRoot: async () => expectStatus(await gw.anon.get('/.well-known/flexgate-root.json'), 200),
      load: async () => null,
      save: async () => {},
    });
    const verifier = createVerifier(keys, { issuer: 'flexgate', clockSkewSec: 30, now: () => new Date() });
    const expectation = { product: 'autocad', sub: alice.autodeskId, allowRefresh: true };
    const why = async (jws: string) => {
      try {
        await verifier.verify(jws, expectation);
        return 'accepted';
      } catch (err) {
        if (err instanceof EntitlementRejected) return err.code;
        throw err;
      }
    };
    const genuine = genuineEntitlement(alice.dir);
    expect(await why(genuine)).toBe('accepted');
    expect(keySetFetches).toBe(1);

    const forged = await forgeries(genuine, (await keys.current(false))?.keys ?? []);
    expect(await why(forged.signatureByteChanged)).toBe('bad-signature');
    expect(await why(forged.payloadByteChanged)).toBe('bad-signature');
    expect(await why(forged.otherKeySameKid)).toBe('bad-signature');
    expect(await why(forged.algNone)).toBe('wrong-algorithm');
    expect(await why(forged.hs256WithPublicKey)).toBe('wrong-algorithm');
    // Refused on the header alone: none of these cost a key set fetch.
    expect(keySetFetches).toBe(1);
    // An unknown kid costs exactly one refresh, then a refusal.
    expect(await why(forged.otherKeyOtherKid)).toBe('unknown-key');
    expect(keySetFetches).toBe(2);
  });

  describe('gateway process stopped', () => {
    let eve: Person;
    let pat: Person;
    let patProvisional: { id: string; launchedAt: string };
    let kim: Person;
    let kimTeam2: string;
    let kimProvisional: { id: string; launchedAt: string };
    let kimRun: RunningProduct;
    let max: Person;
    let maxProvisional: { id: string; launchedAt: string };

    beforeAll(async () => {
      // Eve: a valid entitlement in her cache, to let it expire offline. A new session's entitlement
      // is a 10-minute lease (R7a): her relaunch after the free 5 minutes settles the day, and her
      // cache then holds the entitlement to the session's end. The gateway's clock goes back after.
      eve = await person(50);
      granted(await eve.client.launch('autocad'));
      await gw.setClock(eve.clock.shift(6 * 60_000));
      expect(Date.parse(granted(await eve.client.launch('autocad', { fresh: true })).expiresAt)).toBeGreaterThan(Date.now() + 23 * HOUR);
      await gw.setClock(new Date());
      // Pat: granted autocad before, but closed it within 5 minutes (R7a, refunded), so her cache
      // holds an ended entitlement and nothing usable for a launch.
      pat = await person(30);
      const first = granted(await pat.client.launch('autocad'));
      const ended = await pat.client.end({ product: 'autocad', sessionId: first.session?.id as string });
      expect(ended).toMatchObject({ charged: 0, refunded: 7 });
      // Kim: autocad through two teams, both joined before she signs in (the allowance lists both);
      // her last launch (through the second) refunded too.
      kimTeam2 = await newTeam(gw.fixtures(), 30);
      kim = await person(30, [kimTeam2]);
      const viaTeam2 = granted(await kim.client.launch('autocad', { team: kimTeam2 }));
      expect(await kim.client.end({ product: 'autocad', sessionId: viaTeam2.session?.id as string })).toMatchObject({ refunded: 7 });
      // Max: signed in (which gives the allowance), never launched.
      max = await person(30);

      await gw.stop();
      expect(await gatewayAnswers()).toBe(false);
    });

    it('R7/R17: the relaunch is served from the cache, with no network at all', async () => {
      const r = granted(await alice.client.launch('autocad'));
      expect(r).toMatchObject({ provisional: false, fromCache: true, charged: 0, balance: null, source: 'flex' });
      expect(r.claims.sid).toBe(firstSession);
    });

    it('R17: a tampered, foreign-key, alg-none or HS256 entitlement placed in the cache dir is not used', async () => {
      const dir = join(alice.dir, 'entitlements');
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('__autocad.json')) as string);
      const original = readFileSync(file, 'utf8');
      const record = JSON.parse(original);
      const forged = await forgeries(record.entitlement, cachedKeys(alice.dir));
      try {
        for (const [name, jws] of Object.entries(forged)) {
          writeFileSync(file, JSON.stringify({ ...record, entitlement: jws }));
          const r = await alice.client.launch('autocad');
          // Not the forgery: at most the provisional launch the gateway's offline allowance permits.
          expect(r.granted && !r.provisional, name).toBe(false);
          expect((await alice.client.whoami()).entitlements, name).toEqual([]);
        }
      } finally {
        writeFileSync(file, original);
      }
      // The genuine file still works: what was refused was the forgery, not the outage.
      expect(granted(await alice.client.launch('autocad')).fromCache).toBe(true);
    });

    it('R17: an expired cached entitlement is not used offline, even a minute past exp', async () => {
      eve.clock.shift(23 * HOUR);
      expect(granted(await eve.client.launch('autocad')).fromCache).toBe(true);
      eve.clock.shift(24 * HOUR + 2 * 60_000);
      const r = await eve.client.launch('autocad');
      expect(r).toMatchObject({ granted: false, code: 'gateway-unreachable' });
      expect((await eve.client.whoami()).entitlements).toEqual([]);
      // Winding the clock back does not revive it (the client keeps a high-water mark).
      eve.clock.shift(0);
      expect(await eve.client.launch('autocad')).toMatchObject({ granted: false, code: 'gateway-unreachable' });
    });

    it('CLI offline: exit 0 from the cache, exit 4 when nothing is usable offline', async () => {
      // The library client signed in with the root key configured; the CLI is given the same.
      const common = ['--gateway', gw.url, '--cache-dir', alice.dir, '--trust', trust];
      const [cached, unreachable] = await Promise.all([
        runFlexgate(['launch', 'autocad', ...common]),
        runFlexgate(['launch', 'maya', ...common]),
      ]);
      expect(cached.code, cached.stderr).toBe(0);
      // Named from the cached entitlement alone: the gateway is down.
      expect(cached.stdout).toMatch(/^Granted AutoCAD by flex \(team Team [0-9a-f]{8}\), from the offline cache\.$/m);
      expect(cached.stdout).toMatch(/tokens charged: 0/);
      expect(unreachable.code, unreachable.stdout + unreachable.stderr).toBe(4);
      expect(unreachable.stderr).toMatch(/^Gateway unreachable: /);
    }, 90_000);

    it('provisional launch: under the allowance, the same one on relaunch and after a client restart, then the next slot', async () => {
      const allowance = (await pat.client.whoami()).offlineAllowance;
      expect(allowance?.products).toEqual([{ product: 'autocad', team: pat.team }]);
      const r1 = await pat.client.launch('autocad');
      if (!r1.granted || !r1.provisional) throw new Error(`expected a provisional launch, got ${JSON.stringify(r1)}`);
      patProvisional = { id: r1.provisionalId, launchedAt: r1.launchedAt };
      expect(r1.provisionalId).toBe(`${allowance?.id}.0`);
      expect(Date.parse(r1.expiresAt) - Date.parse(r1.launchedAt)).toBe(4 * HOUR);

      const r2 = await pat.client.launch('autocad');
      expect(r2).toMatchObject({ granted: true, provisional: true, provisionalId: r1.provisionalId });

      // The product restarted: a new client on the same cache grants nothing new.
      const clock = new SharedClock();
      const restarted = newClient(pat.dir, clock);
      expect(await restarted.launch('autocad')).toMatchObject({ granted: true, provisional: true, provisionalId: r1.provisionalId });
      // Once its 4 hours are over, the allowance's next slot.
      clock.shift(4 * HOUR + 60_000);
      const r3 = await restarted.launch('autocad');
      expect(r3).toMatchObject({ granted: true, provisional: true, provisionalId: `${allowance?.id}.1` });
      const after = await pat.client.whoami();
      expect(after.provisional.map((p) => p.id)).toEqual([r1.provisionalId, `${allowance?.id}.1`]);
      // whoami counts what is left of the allowance, not its size alone.
      expect(allowance?.launchesLeft).toBe(allowance?.launches);
      expect(after.offlineAllowance?.launchesLeft).toBe((allowance?.launches ?? 0) - 2);
    });

    it('provisional launch through a named team: that team is the one recorded, and the one reported', async () => {
      const allowance = (await kim.client.whoami()).offlineAllowance;
      expect(allowance?.products.map((p) => p.team).sort()).toEqual([kim.team, kimTeam2].sort());
      expect(await kim.client.launch('autocad')).toMatchObject({ granted: false, reason: expect.stringMatching(/name the team/) });
      const r = await kim.client.launch('autocad', { team: kimTeam2 });
      if (!r.granted || !r.provisional) throw new Error(`expected a provisional launch, got ${JSON.stringify(r)}`);
      kimProvisional = { id: r.provisionalId, launchedAt: r.launchedAt };
      expect((await kim.client.whoami()).provisional).toMatchObject([{ id: r.provisionalId, team: kimTeam2 }]);
      // The product runs on it; its heartbeats are asked for by hand below.
      kimRun = runProduct(kim.client, 'autocad', r, { team: kimTeam2, heartbeatMs: HOUR });
    });

    it('a provisional launch made a minute before the gateway comes back', async () => {
      // Max's clock is where the gateway's will be when it comes back, less a minute.
      max.clock.shift(4 * HOUR + 60_000);
      const r = await max.client.launch('autocad');
      if (!r.granted || !r.provisional) throw new Error(`expected a provisional launch, got ${JSON.stringify(r)}`);
      maxProvisional = { id: r.provisionalId, launchedAt: r.launchedAt };
    });

    describe('gateway process started again on the same database', () => {
      beforeAll(async () => {
        await gw.start();
        // As late as Pat's second provisional launch, so that its report is not from the future.
        await gw.setClock(new Date(Date.now() + 4 * HOUR + 2 * 60_000));
      });

      it('R6/R7: the provisional launches are charged exactly once, at the first one’s launch time', async () => {
        const r = granted(await pat.client.launch('autocad'));
        // The report opened the session at the provisional launch time; this launch found it open.
        expect(r).toMatchObject({ provisional: false, fromCache: false, source: 'flex', charged: 0, balance: 23 });
        expect(r.session?.startsAt).toBe(patProvisional.launchedAt);
        expect((await pat.client.whoami()).provisional).toEqual([]);

        // The same report again (a client that lost the answer, another Idempotency-Key): no charge.
        const { api } = await signIn(gw.fixtures(), { autodeskId: pat.autodeskId, password: pat.password });
        const again = expectStatus(
          await api.post('/v1/launch', { product: 'autocad', provisional: patProvisional }, { 'idempotency-key': 'another-key' }),
          200,
        );
        expect(again).toMatchObject({ charged: 0, session: { id: r.session?.id } });

        const entries = await ledger(gw, pat.team);
        const charges = entries.filter((e) => e.kind === 'charge');
        expect(charges.map((e) => [e.sessionId, e.tokens])).toEqual([
          [expect.any(String), -7],
          [r.session?.id, -7],
        ]);
        expect(entries.filter((e) => e.kind === 'refund').map((e) => e.tokens)).toEqual([7]);
        expect(charges[1]?.at).toBe(patProvisional.launchedAt);
        await expectLedgerMatchesBalance(gw.fixtures(), pat.team);
      });

      it('R6: a provisional run through a named team is reported by its renewal, charged to that team at its launch time', async () => {
        await kimRun.heartbeatNow();
        const r = kimRun.grant;
        expect(r).toMatchObject({ provisional: false, charged: 0, team: kimTeam2, balance: 23 });
        expect((await kimRun.stop()).reason).toBe('closed');
        expect(r.session?.startsAt).toBe(kimProvisional.launchedAt);
        const charges = (await ledger(gw, kimTeam2)).filter((e) => e.kind === 'charge');
        expect(charges.map((e) => [e.tokens, e.at])).toEqual([
          [-7, expect.any(String)],
          [-7, kimProvisional.launchedAt],
        ]);
        expect((await ledger(gw, kim.team)).filter((e) => e.kind === 'charge')).toEqual([]);
      });

      it('R7a: reported within its free 5 minutes and closed on the machine it ran on, a provisional launch is refunded', async () => {
        const r = granted(await max.client.launch('autocad'));
        expect(r).toMatchObject({ charged: 0, balance: 23 });
        expect(r.session?.startsAt).toBe(maxProvisional.launchedAt);
        // The report named the machine, as the launch after it did: closing it closes the session's only machine.
        expect(await max.client.end({ product: 'autocad', sessionId: r.session?.id as string })).toMatchObject({ charged: 0, refunded: 7 });
        await expectLedgerMatchesBalance(gw.fixtures(), max.team);
      });

      it('R7: after the outage the cached session still answers, and the gateway agrees it is the same one', async () => {
        const r = granted(await alice.client.launch('autocad', { fresh: true }));
        expect(r).toMatchObject({ fromCache: false, charged: 0, balance: 43 });
        expect(r.session?.id).toBe(firstSession);
        await expectLedgerMatchesBalance(gw.fixtures(), alice.team);
      });
    });
  });
});

/** The signing keys in the key set a client keeps (`keyset.json`, the JWS as the gateway signed it). */
function cachedKeys(dir: string): { kid: string; x: string }[] {
  return decodeJwt(JSON.parse(readFileSync(join(dir, 'keyset.json'), 'utf8')).keySet).keys as { kid: string; x: string }[];
}

/** The real entitlement in a client's cache dir. */
function genuineEntitlement(dir: string): string {
  const sub = join(dir, 'entitlements');
  const file = readdirSync(sub).find((f) => f.endsWith('__autocad.json')) as string;
  return JSON.parse(readFileSync(join(sub, file), 'utf8')).entitlement;
}

/** Swaps one base64url character for another at `index` of `text`. */
function changeOneChar(text: string, index: number): string {
  const c = text[index] as string;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

/**
 * Every forgery the client must refuse, made from a genuine entitlement of the real gateway and
 * its published keys.
 */
async function forgeries(genuine: string, jwks: { kid: string; x: string }[]) {
  const [h, p, s] = genuine.split('.') as [string, string, string];
  const kid = decodeProtectedHeader(genuine).kid as string;
  const published = jwks.find((k) => k.kid === kid);
  if (!published) throw new Error(`kid ${kid} is not in the key set`);
  const claims = decodeJwt(genuine);

  // One byte of the payload: the last digit of `exp` (a longer entitlement is the obvious forgery).
  const payload = Buffer.from(p, 'base64url').toString('utf8');
  const expAt = payload.indexOf('"exp":') + '"exp":'.length + String(claims.exp).length - 1;
  const digit = payload[expAt] as string;
  const changedPayload = payload.slice(0, expAt) + (digit === '9' ? '8' : String(Number(digit) + 1)) + payload.slice(expAt + 1);

  const other = newEd25519Pair();
  const otherKey = await importJWK({ ...other.privateKey.export({ format: 'jwk' }), alg: 'EdDSA' }, 'EdDSA');
  const signWithOther = (k: string) =>
    new SignJWT({ ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: k, typ: ENTITLEMENT_TYP }).sign(otherKey);

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const hsHeader = b64({ alg: 'HS256', kid, typ: ENTITLEMENT_TYP });
  // The classic confusion attack: HMAC keyed with the public key, which anyone can fetch.
  const hsSig = createHmac('sha256', Buffer.from(published.x, 'base64url')).update(`${hsHeader}.${p}`).digest('base64url');

  return {
    signatureByteChanged: `${h}.${p}.${changeOneChar(s, Math.floor(s.length / 2))}`,
    payloadByteChanged: `${h}.${Buffer.from(changedPayload).toString('base64url')}.${s}`,
    otherKeySameKid: await signWithOther(kid),
    otherKeyOtherKid: await signWithOther(`${kid}-rogue`),
    algNone: `${b64({ alg: 'none', kid, typ: ENTITLEMENT_TYP })}.${p}.`,
    hs256WithPublicKey: `${hsHeader}.${p}.${hsSig}`,
  };
}
