/**
 * A hostile client: the real client library against a real gateway PROCESS, its cache files
 * tampered with as the person at the keyboard would. What the client trusts must not depend on
 * anything that person can write.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient, type LaunchResult } from '@flexgate/client';
import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, KEY_SET_TYP } from '@flexgate/shared';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs, type ProcessGateway, SharedClock, startProcessGateway } from '../harness/client-e2e';
import { newAccount, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { trustOf } from '../harness/trust';

const HOUR = 3600_000;

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
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products }), 201);
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
    const intruder = generateKeyPairSync('ed25519');
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
