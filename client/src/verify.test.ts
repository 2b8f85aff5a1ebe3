import { createHmac } from 'node:crypto';
import { ALLOWANCE_AUDIENCE, ALLOWANCE_TYP } from '@flexgate/shared';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { allowanceKeysOf, verifyAllowance } from './allowance';
import { createHttp, type Http } from './http';
import {
  claimsFor,
  makeKey,
  makeRoot,
  sendJson,
  sign,
  signKeySet,
  startServer,
  type TestKey,
  type TestRoot,
  type TestServer,
  unsignedToken,
} from './testing/keys';
import {
  createKeyStore,
  createVerifier,
  EntitlementRejected,
  type KeySetRecord,
  type KeyStore,
  parseJwks,
  type TrustRoot,
  type Verifier,
} from './verify';

let server: TestServer;
let http: Http;
let root: TestRoot;
let keyA: TestKey;
let rogue: TestKey;
/** What the server answers at the key set's path: a JWS, signed by `root` unless a test says otherwise. */
let published: string;
let keySetHits = 0;
let rootHits = 0;
const now = new Date('2026-03-15T10:00:00Z');

beforeAll(async () => {
  root = await makeRoot();
  keyA = await makeKey('key-a');
  rogue = await makeKey('key-a'); // same kid, other key
  server = await startServer((req, res) => {
    if (req.url === '/.well-known/flexgate-keys') {
      keySetHits++;
      sendJson(res, 200, published, 'application/jose');
    } else if (req.url === '/.well-known/flexgate-root.json') {
      rootHits++;
      sendJson(res, 200, root.jwk);
    } else sendJson(res, 404, {});
  });
  http = createHttp(server.url, { retry: { attempts: 1 } });
});
afterAll(async () => {
  await http.close();
  await server.close();
});

let keys: KeyStore;
let verifier: Verifier;
let saved: KeySetRecord | null;

function storeFor(trust: TrustRoot): KeyStore {
  return createKeyStore({
    trust,
    issuer: 'flexgate',
    fetchKeySet: async () => String((await http.request({ method: 'GET', path: '/.well-known/flexgate-keys' })).body),
    fetchRoot: async () => (await http.request({ method: 'GET', path: '/.well-known/flexgate-root.json' })).body,
    load: async () => saved,
    save: async (record) => {
      saved = record;
    },
  });
}

beforeEach(async () => {
  published = await signKeySet(root, { ver: 1, keys: [keyA] });
  keySetHits = 0;
  rootHits = 0;
  saved = null;
  keys = storeFor(root.jwk);
  verifier = createVerifier(keys, { issuer: 'flexgate', clockSkewSec: 30, now: () => now });
});

const expectation = { product: 'autocad', sub: 'ada@example.com', allowRefresh: true };

async function rejection(jws: string, expect_ = expectation): Promise<string> {
  try {
    await verifier.verify(jws, expect_);
  } catch (err) {
    if (err instanceof EntitlementRejected) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('verify', () => {
  it('accepts a genuine entitlement and returns its claims', async () => {
    const claims = await verifier.verify(await sign(keyA, claimsFor({ now })), expectation);
    expect(claims).toMatchObject({ sub: 'ada@example.com', product: 'autocad', source: 'flex', sid: 'sess-1' });
    expect(keySetHits).toBe(1);
    // Kept as the JWS the gateway signed, to be verified again when loaded.
    expect(saved?.keySet).toBe(published);
  });

  it('compares the subject case-insensitively on the expected side', async () => {
    const jws = await sign(keyA, claimsFor({ now }));
    await expect(verifier.verify(jws, { ...expectation, sub: 'Ada@Example.com' })).resolves.toBeTruthy();
  });

  it('rejects a token with one byte changed', async () => {
    const jws = await sign(keyA, claimsFor({ now }));
    const [h, p, s] = jws.split('.') as [string, string, string];
    const i = Math.floor(p.length / 2);
    const flipped = `${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}`;
    expect(await rejection(`${h}.${flipped}.${s}`)).toBe('bad-signature');
    const sigFlip = `${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`;
    expect(await rejection(`${h}.${p}.${sigFlip}`)).toBe('bad-signature');
  });

  it('rejects a token signed by another key under a known kid', async () => {
    expect(await rejection(await sign(rogue, claimsFor({ now })))).toBe('bad-signature');
  });

  it('rejects alg none without touching the network', async () => {
    expect(await rejection(unsignedToken(claimsFor({ now }), 'key-a'))).toBe('wrong-algorithm');
    expect(keySetHits).toBe(0);
  });

  it('rejects HS256 signed with the public key as the secret', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'key-a', typ: 'flexgate-entitlement+jwt' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claimsFor({ now }))).toString('base64url');
    for (const secret of [JSON.stringify(keyA.jwk), keyA.jwk.x, Buffer.from(keyA.jwk.x, 'base64url')]) {
      const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expect(await rejection(`${header}.${payload}.${mac}`)).toBe('wrong-algorithm');
    }
    expect(keySetHits).toBe(0);
  });

  it('rejects a token that names no key, or an empty one, as malformed without touching the network', async () => {
    expect(await rejection(await sign(keyA, claimsFor({ now }), { kid: undefined }))).toBe('malformed');
    expect(await rejection(await sign(keyA, claimsFor({ now }), { kid: '' }))).toBe('malformed');
    expect(keySetHits).toBe(0);
  });

  it('refreshes the key set exactly once for an unknown kid, then refuses', async () => {
    await verifier.verify(await sign(keyA, claimsFor({ now })), expectation);
    expect(keySetHits).toBe(1);
    const stranger = await makeKey('key-unknown');
    expect(await rejection(await sign(stranger, claimsFor({ now })))).toBe('unknown-key');
    expect(keySetHits).toBe(2);
  });

  it('follows a key rotation with one refresh', async () => {
    await verifier.verify(await sign(keyA, claimsFor({ now })), expectation);
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 2, keys: [keyB, keyA] });
    await expect(verifier.verify(await sign(keyB, claimsFor({ now })), expectation)).resolves.toBeTruthy();
    expect(keySetHits).toBe(2);
    // The new key is remembered: no further fetch.
    await verifier.verify(await sign(keyB, claimsFor({ now })), expectation);
    expect(keySetHits).toBe(2);
  });

  it('does not refresh when refreshing is not allowed (offline cache read)', async () => {
    const stranger = await makeKey('key-unknown');
    expect(await rejection(await sign(stranger, claimsFor({ now })), { ...expectation, allowRefresh: false })).toBe('unknown-key');
    expect(keySetHits).toBe(0);
  });

  it('checks typ, issuer, audience, product and subject', async () => {
    expect(await rejection(await sign(keyA, claimsFor({ now }), { typ: 'JWT' }))).toBe('wrong-type');
    expect(await rejection(await sign(keyA, claimsFor({ now }), { typ: 'flexgate-id+jwt' }))).toBe('wrong-type');
    expect(await rejection(await sign(keyA, claimsFor({ now, iss: 'evil' })))).toBe('wrong-issuer');
    expect(await rejection(await sign(keyA, claimsFor({ now, aud: 'flexgate:user' })))).toBe('wrong-audience');
    expect(await rejection(await sign(keyA, claimsFor({ now, product: 'revit' })))).toBe('wrong-product');
    expect(await rejection(await sign(keyA, claimsFor({ now, sub: 'eve@example.com' })))).toBe('wrong-subject');
    const { jti: _jti, ...noJti } = claimsFor({ now });
    expect(await rejection(await sign(keyA, noJti))).toBe('malformed');
    expect(await rejection(await sign(keyA, { ...claimsFor({ now }), source: 'free' }))).toBe('malformed');
    expect(await rejection('not-a-jwt')).toBe('malformed');
  });

  it('honours exp with the clock skew allowance, never beyond it', async () => {
    const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000);
    // Expired 20 s ago: inside the 30 s allowance.
    expect(await rejection(await sign(keyA, claimsFor({ now: at(3620), ttlSec: 3600 })))).toBe('accepted');
    // Expired 40 s ago: outside.
    expect(await rejection(await sign(keyA, claimsFor({ now: at(3640), ttlSec: 3600 })))).toBe('expired');
  });
});

/** An offline allowance for autocad (6 launches, a day), signed by `k`. */
function allowanceOf(k: TestKey, aid = 'alw_1'): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({
    iss: 'flexgate',
    aud: ALLOWANCE_AUDIENCE,
    sub: 'ada@example.com',
    aid,
    iat,
    exp: iat + 86_400,
    products: [{ product: 'autocad', team: null }],
    launches: 6,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: ALLOWANCE_TYP })
    .sign(k.privateKey);
}

describe('the key set and its root', () => {
  const why = async (v: Verifier, jws: string, allowRefresh = true) => {
    try {
      await v.verify(jws, { ...expectation, allowRefresh });
      return 'accepted';
    } catch (err) {
      if (err instanceof EntitlementRejected) return err.code;
      throw err;
    }
  };
  const reloaded = (trust: TrustRoot = root.jwk) =>
    createVerifier(storeFor(trust), { issuer: 'flexgate', clockSkewSec: 30, now: () => now });

  it('trusts no key a key set not signed by the root lists, from the network or from disk', async () => {
    const intruder = await makeKey('key-x');
    const otherRoot = await makeRoot();
    published = await signKeySet(otherRoot, { ver: 9, keys: [intruder] });
    expect(await why(verifier, await sign(intruder, claimsFor({ now })))).toBe('unknown-key');
    expect(keys.problem).toMatch(/not signed by the trusted root/);

    // A genuine key set on disk, a key added to its payload (the signature no longer holds).
    published = await signKeySet(root, { ver: 1, keys: [keyA] });
    const genuine = published;
    expect(await why(reloaded(), await sign(keyA, claimsFor({ now })))).toBe('accepted');
    const [h, p, sig] = genuine.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.keys.push(intruder.jwk);
    saved = { keySet: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}` };
    expect(await why(reloaded(), await sign(intruder, claimsFor({ now })), false)).toBe('unknown-key');
    // Nor signed by another root and saved with that root: the configured one decides.
    saved = { keySet: await signKeySet(otherRoot, { ver: 9, keys: [intruder] }), root: otherRoot.jwk };
    expect(await why(reloaded(root.thumbprint), await sign(intruder, claimsFor({ now })), false)).toBe('unknown-key');
  });

  it('with a thumbprint, fetches the root once and keeps it only if the thumbprint matches', async () => {
    const v = reloaded(root.thumbprint);
    expect(await why(v, await sign(keyA, claimsFor({ now })))).toBe('accepted');
    expect(rootHits).toBe(1);
    expect(saved?.root).toMatchObject({ x: root.jwk.x });
    const stranger = await makeRoot();
    const wrong = storeFor(stranger.thumbprint);
    saved = null;
    expect(await wrong.refresh()).toBeNull();
    expect(wrong.problem).toMatch(/root key is not the trusted one/);
  });

  it('refuses a revoked key at once, without a refresh, even with a valid signature', async () => {
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 2, keys: [keyB, keyA], revoked: ['key-a'] });
    // Listed in both: revoked wins.
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('revoked-key');
    expect(keySetHits).toBe(1);
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('revoked-key');
    expect(keySetHits).toBe(1);
    expect(await why(verifier, await sign(keyB, claimsFor({ now })))).toBe('accepted');
  });

  it('checks an offline allowance against the keys in service only: one signed by a revoked key is refused', async () => {
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 2, keys: [keyB, keyA], revoked: ['key-a'] });
    const check = async (jws: string) =>
      verifyAllowance(jws, { issuer: 'flexgate', sub: 'ada@example.com', keys: allowanceKeysOf(keys), allowRefresh: true });
    await expect(check(await allowanceOf(keyB))).resolves.toMatchObject({ aid: 'alw_1', launches: 6 });
    // Listed among the keys and revoked: a stolen key signs no allowance, whatever the set lists.
    await expect(check(await allowanceOf(keyA))).rejects.toThrow(/unknown key \(key-a\)/);
  });

  it('an offline allowance signed by a key rotated in since fetches the key set once, then no more', async () => {
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('accepted');
    expect(keySetHits).toBe(1);
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 2, keys: [keyB, keyA] });
    const jws = await allowanceOf(keyB, 'alw_2');
    const check = (allowRefresh: boolean) =>
      verifyAllowance(jws, { issuer: 'flexgate', sub: 'ada@example.com', keys: allowanceKeysOf(keys), allowRefresh });
    await expect(check(true)).resolves.toMatchObject({ aid: 'alw_2' });
    expect(keySetHits).toBe(2);
    // Known now: checked again, online or not, without a fetch.
    await expect(check(true)).resolves.toMatchObject({ aid: 'alw_2' });
    await expect(check(false)).resolves.toMatchObject({ aid: 'alw_2' });
    expect(keySetHits).toBe(2);
  });

  it('never goes back to an older key set (no rollback), from the network or a restored file', async () => {
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 5, keys: [keyB], revoked: ['key-a'] });
    expect(await why(verifier, await sign(keyB, claimsFor({ now })))).toBe('accepted');
    const before = published;
    published = await signKeySet(root, { ver: 4, keys: [keyA, keyB] });
    const older = await keys.refresh();
    expect(older?.ver).toBe(5);
    expect(saved?.keySet).toBe(before);
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('revoked-key');
  });

  it('an answer naming a newer version makes it refresh; until then the held set is not trusted, across restarts', async () => {
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('accepted');
    await keys.observe(1);
    expect(keySetHits).toBe(1);
    const keyB = await makeKey('key-b');
    published = await signKeySet(root, { ver: 2, keys: [keyB], revoked: ['key-a'] });
    await keys.observe(2);
    expect(keySetHits).toBe(2);
    expect(await why(verifier, await sign(keyA, claimsFor({ now })), false)).toBe('revoked-key');

    // Version 3 announced, but the key set cannot be fetched now: nothing is trusted offline,
    // and a client started again on the same files knows it.
    const down = createKeyStore({
      trust: root.jwk,
      issuer: 'flexgate',
      fetchKeySet: async () => {
        throw new Error('unreachable');
      },
      fetchRoot: async () => root.jwk,
      load: async () => saved,
      save: async (record) => {
        saved = record;
      },
    });
    await down.observe(3);
    expect(saved?.stale).toBe(3);
    expect(await down.current(false)).toBeNull();
    expect(
      await reloaded()
        .verify(await sign(keyB, claimsFor({ now })), { ...expectation, allowRefresh: false })
        .catch((e) => e.code),
    ).toBe('unknown-key');
    // Fetched at last: trusted again, the mark gone.
    published = await signKeySet(root, { ver: 3, keys: [keyB], revoked: ['key-a'] });
    const back = reloaded();
    expect(await why(back, await sign(keyB, claimsFor({ now })))).toBe('accepted');
    expect(saved?.stale).toBeUndefined();
  });

  it('a key set fetched after an announcement but older than it (an instance behind) lifts nothing', async () => {
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('accepted');
    // Another instance announced version 3; the one the refresh reached still serves version 2.
    published = await signKeySet(root, { ver: 2, keys: [keyA] });
    await keys.observe(3);
    expect(keySetHits).toBe(2);
    expect(saved?.stale).toBe(3);
    expect(await keys.current(false)).toBeNull();
    expect(await why(verifier, await sign(keyA, claimsFor({ now })), false)).toBe('unknown-key');
    published = await signKeySet(root, { ver: 3, keys: [keyA] });
    expect(await why(verifier, await sign(keyA, claimsFor({ now })))).toBe('accepted');
    expect(saved?.stale).toBeUndefined();
  });
});

describe('parseJwks', () => {
  it('keeps only Ed25519 signing keys', () => {
    const jwks = parseJwks({
      keys: [
        { kty: 'oct', k: 'c2VjcmV0', kid: 'key-a', alg: 'HS256' },
        { kty: 'RSA', n: 'x', e: 'AQAB', kid: 'r' },
        { kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'ok', alg: 'EdDSA', use: 'sig' },
        { kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'enc', use: 'enc' },
      ],
    });
    expect(jwks.keys.map((k) => k.kid)).toEqual(['ok']);
    expect(() => parseJwks({})).toThrow();
  });
});
