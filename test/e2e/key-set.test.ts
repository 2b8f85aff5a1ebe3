/**
 * The trust root and the key set (R17): the root key signs the list of signing keys in service,
 * clients trust nothing else, rotation needs no reconfiguration, and a revoked key is withdrawn
 * from every instance within seconds and from every client at its next contact.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FlexgateClient, verifyKeySet } from '@flexgate/client';
import { ConfigError, startGateway, testConfig } from '@flexgate/gateway';
import { KEY_SET_PATH, KEY_SET_VERSION_HEADER, newEd25519Pair, ROOT_KEY_PATH } from '@flexgate/shared';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs } from '../harness/client-e2e';
import { joinTeam, newAccount, newMember, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Api, expectStatus } from '../harness/http';
import { type Instance, type InstanceGroup, startGroup, viaInstance } from '../harness/instances';
import { granted } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

const dirs = cacheDirs();
const clients: FlexgateClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  dirs.cleanup();
});

function clientOf(gatewayUrl: string, trust: string): FlexgateClient {
  const client = createClient({
    gatewayUrl,
    trust,
    cacheDir: dirs.make(),
    machine: 'key-set-workstation',
    http: { timeoutMs: 10_000, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 100 } },
  });
  clients.push(client);
  return client;
}

/** The key set an instance serves, verified against the root a client would embed. */
async function keySetOf(api: Pick<Api, 'get'>) {
  const root = expectStatus(await api.get(ROOT_KEY_PATH), 200);
  const answer = await api.get(KEY_SET_PATH);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toBe('application/jose');
  return verifyKeySet(answer.text, root, 'flexgate');
}

describe('one gateway', () => {
  let gw: TestGateway;
  let trust: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    trust = await trustOf(gw);
    await seedCatalog(gw);
  });
  afterAll(async () => gw?.close());

  it('R17: the root signs the key set; the root JWK names itself by its thumbprint; the JWKS stays for other JOSE tools', async () => {
    const root = expectStatus(await gw.anon.get(ROOT_KEY_PATH), 200);
    expect(root).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: await calculateJwkThumbprint(root) });
    expect(root).not.toHaveProperty('d');
    const set = await keySetOf(gw.anon);
    const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
    expect(set.keys.map((k) => k.kid)).toEqual(jwks.keys.map((k: { kid: string }) => k.kid));
    expect(decodeProtectedHeader(set.jws)).toMatchObject({ alg: 'EdDSA', kid: root.kid, typ: 'flexgate-keyset+jwt' });
    // Every answer names the version: the launch lane's, the app's, a refusal's.
    const u = await newMember(gw, await newTeam(gw, 50), ['autocad']);
    const answers = [
      await u.api.post('/v1/launch', { product: 'autocad' }),
      await u.api.post('/v1/launch', { product: 'revit' }),
      await gw.anon.get('/healthz'),
      await gw.anon.get('/no/such/route'),
    ];
    for (const a of answers) expect(a.headers.get(KEY_SET_VERSION_HEADER)).toBe(String(set.ver));
  });

  it('R17: key rotation works without reconfiguring clients: the same root vouches for the new key', async () => {
    const team = await newTeam(gw, 50);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad', 'revit'] });
    const client = clientOf(gw.url, trust);
    await client.signIn(account.autodeskId, account.password);
    const before = granted(await client.launch('autocad'));
    const versionBefore = (await keySetOf(gw.anon)).ver;

    const { kid } = expectStatus(await gw.op.post('/v1/keys/rotate'), 200);
    expect((await keySetOf(gw.anon)).ver).toBeGreaterThan(versionBefore);
    const after = granted(await client.launch('revit'));
    expect(decodeProtectedHeader(after.entitlement).kid).toBe(kid);
    // A client set up later, with the same trust, takes both.
    const later = clientOf(gw.url, trust);
    await later.signIn(account.autodeskId, account.password);
    expect(granted(await later.launch('autocad')).claims.sid).toBe(before.claims.sid);
    // Both entitlements stay usable from the first client's cache.
    expect(granted(await client.launch('autocad'))).toMatchObject({ fromCache: true });
    expect(granted(await client.launch('revit'))).toMatchObject({ fromCache: true });
  });

  it('operator: signing keys listed; revoking one withdraws it from the JWKS, the key set and sign-ins; again changes nothing', async () => {
    const u = await newMember(gw, await newTeam(gw, 50), ['autocad']);
    const active = decodeProtectedHeader(u.api.token as string).kid as string;
    const listed = expectStatus(await gw.op.get('/v1/operator/signing-keys'), 200);
    expect(listed[0]).toMatchObject({ kid: active, status: 'active', revokedAt: null });

    const revoked = expectStatus(await gw.op.post(`/v1/operator/signing-keys/${active}/revoke`), 200);
    expect(revoked).toMatchObject({ kid: active, revokedAt: expect.any(String), keySetVersion: expect.any(Number) });
    const set = await keySetOf(gw.anon);
    expect(set.ver).toBe(revoked.keySetVersion);
    expect(set.revoked).toContain(active);
    expect(set.keys[0]?.kid).toBe(revoked.activeKid);
    expect(set.keys.map((k) => k.kid)).not.toContain(active);
    const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).not.toContain(active);
    // An access token the revoked key signed opens nothing any more, even one verified before.
    expect((await u.api.get('/v1/me/products')).status).toBe(401);
    const fresh = await signIn(gw, { autodeskId: u.autodeskId, password: u.password });
    expect(decodeProtectedHeader(fresh.api.token as string).kid).toBe(revoked.activeKid);
    expect((await fresh.api.get('/v1/me/products')).status).toBe(200);

    const again = expectStatus(await gw.op.post(`/v1/operator/signing-keys/${active}/revoke`), 200);
    expect(again).toMatchObject({ kid: active, revokedAt: revoked.revokedAt, keySetVersion: revoked.keySetVersion });
    const statuses = expectStatus(await gw.op.get('/v1/operator/signing-keys'), 200);
    expect(statuses.find((k: { kid: string }) => k.kid === active)).toMatchObject({ status: 'revoked' });
    expect(statuses[0]).toMatchObject({ kid: revoked.activeKid, status: 'active' });

    expect((await gw.op.post('/v1/operator/signing-keys/no-such-kid/revoke')).body).toMatchObject({ status: 404, code: 'not-found' });
    expect((await gw.op.post('/v1/operator/signing-keys/bad%20kid/revoke')).status).toBe(400);
    expect((await fresh.api.post(`/v1/operator/signing-keys/${revoked.activeKid}/revoke`)).status).toBe(403);
    expect((await gw.anon.get('/v1/operator/signing-keys')).status).toBe(401);
  });

  it('operator: a rotated key is listed as retired while its tokens may live, then as dropped', async () => {
    const t0 = new Date();
    await setClock(gw, t0);
    const keys = async () => expectStatus(await gw.op.get('/v1/operator/signing-keys'), 200) as { kid: string; status: string }[];
    const statusOf = async (k: string) => (await keys()).find((x) => x.kid === k)?.status;
    const old = (await keys()).find((k) => k.status === 'active')?.kid as string;
    const { kid } = expectStatus(await gw.op.post('/v1/keys/rotate'), 200);
    expect(await statusOf(kid)).toBe('active');
    expect(await statusOf(old)).toBe('retired');
    // Published as long as a token it signed may live, plus an hour: here the harness's 7-day access
    // tokens (longer than a day of entitlement), so 7 days and an hour after the rotation.
    const published = 7 * 86_400_000 + 3_600_000;
    await setClock(gw, new Date(t0.getTime() + published - 60_000));
    expect(await statusOf(old)).toBe('retired');
    await setClock(gw, new Date(t0.getTime() + published + 60_000));
    expect(await statusOf(old)).toBe('dropped');
    expect(await statusOf(kid)).toBe('active');
  });
});

describe('a root key given by the operator (FLEXGATE_ROOT_KEY_FILE)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'flexgate-root-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('signs the key set instead of one of its own; an unusable file stops the start with one line', async () => {
    const { privateKey, publicKey } = newEd25519Pair();
    const file = join(folder, 'root.pem');
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const gw = await startTestGateway({ rootKeyFile: file });
    try {
      const expected = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string });
      expect(await trustOf(gw)).toBe(expected);
      expect(decodeProtectedHeader((await keySetOf(gw.anon)).jws).kid).toBe(expected);
    } finally {
      await gw.close();
    }

    const rsa = join(folder, 'rsa.pem');
    // The PEM made inside the generation, not exported from the key after it (shared/src/keys.ts says why).
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { format: 'pem', type: 'spki' },
        privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
      }).privateKey,
    );
    for (const [path, problem] of [
      [join(folder, 'missing.pem'), /cannot be read \(ENOENT\)/],
      [rsa, /holds a rsa key, not an Ed25519 one/],
    ] as const) {
      // Refused before any database is touched.
      const config = testConfig({ port: 0, databaseUrl: `sqlite:${join(folder, 'never.db')}`, logLevel: 'silent', rootKeyFile: path });
      const failed = await startGateway(config).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(ConfigError);
      expect((failed as ConfigError).problems).toEqual([expect.stringMatching(problem)]);
    }
    expect(existsSync(join(folder, 'never.db'))).toBe(false);
  });
});

describe('two gateway instances on one database', () => {
  let group: InstanceGroup;
  let a: Instance;
  let b: Instance;
  let trust: string;
  beforeAll(async () => {
    group = await startGroup({ count: 2 });
    [a, b] = group.instances as [Instance, Instance];
    trust = await trustOf(b);
    await seedCatalog(viaInstance(a));
  });
  afterAll(async () => group?.close());

  it('R17: an access token signed by a key rotated through the other instance a moment ago is accepted at once', async () => {
    const team = await newTeam(viaInstance(a), 50);
    const account = await newAccount(viaInstance(a));
    await joinTeam(viaInstance(a), team, account, { products: ['autocad'] });
    // An instance reloads its keys for an unknown kid at most every 5 s; its start was one.
    await new Promise((r) => setTimeout(r, 5_100));
    const { kid } = expectStatus(await a.op.post('/v1/keys/rotate'), 200);
    const user = await signIn(viaInstance(a), account);
    expect(decodeProtectedHeader(user.api.token as string).kid).toBe(kid);
    // B follows the key set every 2 s; before it does, a kid it does not know makes it reload.
    expectStatus(await b.anon.as(user.api.token as string).post('/v1/launch', { product: 'autocad' }), 200);
  });

  it('R17: a key revoked through one instance leaves the other within seconds, and its clients at their next contact', async () => {
    const team = await newTeam(viaInstance(a), 50);
    const account = await newAccount(viaInstance(a));
    await joinTeam(viaInstance(a), team, account, { products: ['autocad', 'revit'] });
    const client = clientOf(b.url, trust);
    await client.signIn(account.autodeskId, account.password);
    const first = granted(await client.launch('autocad'));
    const leaked = decodeProtectedHeader(first.entitlement).kid as string;

    const revoked = expectStatus(await a.op.post(`/v1/operator/signing-keys/${leaked}/revoke`), 200);
    const started = Date.now();
    let servedBy = Number.POSITIVE_INFINITY;
    for (;;) {
      const set = await keySetOf(b.anon);
      if (set.revoked.includes(leaked)) {
        servedBy = Date.now() - started;
        expect(set.ver).toBe(revoked.keySetVersion);
        break;
      }
      if (Date.now() - started > 10_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Instances check the key set's version every 2 s.
    expect(servedBy).toBeLessThan(5_000);

    // The client's next contact with B tells it the key set moved: the cached entitlement is no
    // longer trusted. Its access token, signed by the revoked key, is refused too; the client
    // renews it with its refresh token (no key signs those) and the launch goes through, signed
    // by the new key.
    expect(granted(await client.launch('autocad'))).toMatchObject({ fromCache: true });
    // Any answer names the key set's version, not only a launch signed by a key the client lacks:
    // after listing its products, the cached entitlement signed by the revoked key is gone.
    expect((await client.whoami()).entitlements.map((e) => e.product)).toEqual(['autocad']);
    await client.products();
    expect((await client.whoami()).entitlements).toEqual([]);
    const relaunch = granted(await client.launch('revit', { fresh: true }));
    expect(decodeProtectedHeader(relaunch.entitlement).kid).not.toBe(leaked);
    expect((await client.whoami()).entitlements.map((e) => e.product)).toEqual(['revit']);

    // Signed in again: the session paid for goes on, its entitlement signed by the new key on B.
    await client.signIn(account.autodeskId, account.password);
    const again = granted(await client.launch('autocad'));
    expect(again).toMatchObject({ fromCache: false, charged: 0 });
    expect(again.session?.id).toBe(first.session?.id);
    expect(decodeProtectedHeader(again.entitlement).kid).toBe(revoked.activeKid);
    expect(decodeJwt(again.entitlement).exp).toBe(first.claims.exp);
  });
});
