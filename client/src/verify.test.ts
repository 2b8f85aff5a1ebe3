import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttp, type Http } from './http';
import { claimsFor, makeKey, sendJson, sign, startServer, type TestKey, type TestServer, unsignedToken } from './testing/keys';
import { createKeyStore, createVerifier, EntitlementRejected, type Jwks, parseJwks, type Verifier } from './verify';

let server: TestServer;
let http: Http;
let keyA: TestKey;
let rogue: TestKey;
let published: TestKey[];
let jwksHits = 0;
const now = new Date('2026-03-15T10:00:00Z');

beforeAll(async () => {
  keyA = await makeKey('key-a');
  rogue = await makeKey('key-a'); // same kid, other key
  server = await startServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      jwksHits++;
      sendJson(res, 200, { keys: published.map((k) => k.jwk) });
    } else sendJson(res, 404, {});
  });
  http = createHttp(server.url, { retry: { attempts: 1 } });
});
afterAll(async () => {
  await http.close();
  await server.close();
});

let verifier: Verifier;
let saved: Jwks | null;
beforeEach(() => {
  published = [keyA];
  jwksHits = 0;
  saved = null;
  const keys = createKeyStore({
    fetch: async () => (await http.request({ method: 'GET', path: '/.well-known/jwks.json' })).body,
    load: async () => saved,
    save: async (jwks) => {
      saved = jwks;
    },
  });
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
    expect(jwksHits).toBe(1);
    expect(saved?.keys[0]?.kid).toBe('key-a');
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
    expect(jwksHits).toBe(0);
  });

  it('rejects HS256 signed with the public key as the secret', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'key-a', typ: 'flexgate-entitlement+jwt' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claimsFor({ now }))).toString('base64url');
    for (const secret of [JSON.stringify(keyA.jwk), keyA.jwk.x, Buffer.from(keyA.jwk.x, 'base64url')]) {
      const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expect(await rejection(`${header}.${payload}.${mac}`)).toBe('wrong-algorithm');
    }
    expect(jwksHits).toBe(0);
  });

  it('refreshes the JWKS exactly once for an unknown kid, then refuses', async () => {
    await verifier.verify(await sign(keyA, claimsFor({ now })), expectation);
    expect(jwksHits).toBe(1);
    const stranger = await makeKey('key-unknown');
    expect(await rejection(await sign(stranger, claimsFor({ now })))).toBe('unknown-key');
    expect(jwksHits).toBe(2);
  });

  it('follows a key rotation with one refresh', async () => {
    await verifier.verify(await sign(keyA, claimsFor({ now })), expectation);
    const keyB = await makeKey('key-b');
    published = [keyB, keyA];
    await expect(verifier.verify(await sign(keyB, claimsFor({ now })), expectation)).resolves.toBeTruthy();
    expect(jwksHits).toBe(2);
    // The new key is remembered: no further fetch.
    await verifier.verify(await sign(keyB, claimsFor({ now })), expectation);
    expect(jwksHits).toBe(2);
  });

  it('does not refresh when refreshing is not allowed (offline cache read)', async () => {
    const stranger = await makeKey('key-unknown');
    expect(await rejection(await sign(stranger, claimsFor({ now })), { ...expectation, allowRefresh: false })).toBe('unknown-key');
    expect(jwksHits).toBe(0);
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
    expect(
      await rejection(await sign(keyA, claimsFor({ now: at(7200), ttlSec: 60 })), {
        ...expectation,
        ignoreExpiry: true,
      } as typeof expectation),
    ).toBe('accepted');
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
