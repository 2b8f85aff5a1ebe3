import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { ENTITLEMENT_TYP, ID_TOKEN_AUDIENCE, ID_TOKEN_TYP } from '@flexgate/shared';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { type IdTokenKey, idTokenClaimsMac, idTokenMacKey, verifyIdToken } from './verify-id-token';

// Tokens are made with jose, an independent JOSE implementation: what it signs with our keys this
// must accept; what our options refuse, this must refuse (test/e2e/auth.test.ts covers the same
// over HTTP: alg none, HS256 keyed with the public key, other keys, wrong audience, entitlements,
// expired tokens, and that a sign-in's token verifies against the JWKS as the client checks it).
const NOW = 1_800_000_000;
const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');
const d = (k: KeyObject) => Buffer.from(String(k.export({ format: 'jwk' }).d), 'base64url');
const ourMac = idTokenMacKey(d(ours.privateKey), 'k1');
const keys = new Map<string, IdTokenKey>([['k1', { publicKey: ours.publicKey, macKey: ourMac }]]);
const base = { iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW - 60, exp: NOW + 3600, jti: 'idt_1' };

/** As the gateway issues them: EdDSA, with `gmac` over the claims (under `macKey`, ours by default). */
function issued(
  claims: JWTPayload = {},
  header: Record<string, unknown> = {},
  opts: { macKey?: Buffer; key?: KeyObject } = {},
): Promise<string> {
  const payload: JWTPayload = { ...base, ...claims };
  payload.gmac = idTokenClaimsMac(payload, opts.macKey ?? ourMac);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, ...header })
    .sign(opts.key ?? ours.privateKey);
}
/** As earlier versions issued them: EdDSA, no `gmac`. */
function legacy(claims: JWTPayload = {}, key = ours.privateKey): Promise<string> {
  return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP }).sign(key);
}
/** Signed by hand (Ed25519), for headers jose refuses to produce. */
function raw(header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), ours.privateKey).toString('base64url')}`;
}
const verify = (t: string, now = NOW) => verifyIdToken(t, keys, 'flexgate', now);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('ID token verification (R17, SECURITY.md)', () => {
  it('accepts a token as the gateway issues it, with every claim a launch relies on', async () => {
    const claims = await verify(await issued());
    expect(claims.sub).toBe('ann@example.com');
    expect(claims.exp).toBe(NOW + 3600);
    await expect(verify(await issued({ aud: ['other', ID_TOKEN_AUDIENCE] }))).resolves.toMatchObject({ sub: 'ann@example.com' });
  });

  it('verifies a token without gmac (earlier versions) by its signature, and refuses one by another key', async () => {
    await expect(verify(await legacy())).resolves.toMatchObject({ sub: 'ann@example.com' });
    await expect(verify(await legacy({}, theirs.privateKey))).rejects.toMatchObject({ reason: 'signature' });
    await expect(verify(await legacy({ exp: NOW }))).rejects.toMatchObject({ reason: 'expired' });
  });

  it('refuses a gmac under any other key: another signing key, another kid, the public key, random bytes', async () => {
    expect(idTokenMacKey(d(ours.privateKey), 'k2').equals(ourMac)).toBe(false);
    const publicRaw = Buffer.from(String(ours.publicKey.export({ format: 'jwk' }).x), 'base64url');
    for (const macKey of [idTokenMacKey(d(theirs.privateKey), 'k1'), idTokenMacKey(d(ours.privateKey), 'k2'), publicRaw, randomBytes(32)]) {
      await expect(verify(await issued({}, {}, { macKey }))).rejects.toMatchObject({ reason: 'signature' });
    }
  });

  it('refuses claims changed under their gmac, a gmac moved from another token, a truncated or non-string gmac', async () => {
    const [h, p, s] = (await issued()).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    for (const change of [{ sub: 'bob@example.com' }, { exp: NOW + 999_999 }, { iat: NOW + 1 }, { jti: 'idt_2' }, { aud: ['other'] }]) {
      await expect(verify(`${h}.${b64({ ...claims, ...change })}.${s}`)).rejects.toMatchObject({
        reason: expect.stringMatching(/signature/),
      });
    }
    const bobs = JSON.parse(Buffer.from((await issued({ sub: 'bob@example.com' })).split('.')[1] as string, 'base64url').toString());
    await expect(verify(`${h}.${b64({ ...claims, gmac: bobs.gmac })}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    await expect(verify(`${h}.${b64({ ...claims, gmac: claims.gmac.slice(0, 20) })}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    await expect(verify(`${h}.${b64({ ...claims, gmac: 1 })}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses a kid it does not hold as "no-key", which makes the gateway reload its keys once', async () => {
    await expect(verify(await issued({}, { kid: 'k2' }))).rejects.toMatchObject({ reason: 'no-key' });
  });

  it('refuses headers other than ours: typ of an entitlement, crit, HS256', async () => {
    await expect(verify(await issued({}, { typ: ENTITLEMENT_TYP }))).rejects.toMatchObject({ reason: 'header' });
    const payload = { ...base, exp: NOW + 60 };
    expect((await verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP }, payload))).sub).toBe('ann@example.com');
    await expect(verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, crit: ['x'], x: 1 }, payload))).rejects.toMatchObject({
      reason: 'header',
    });
    const hs = await new SignJWT({ ...base }).setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: ID_TOKEN_TYP }).sign(ourMac);
    await expect(verify(hs)).rejects.toMatchObject({ reason: 'header' });
  });

  it('refuses wrong issuer or audience, missing sub or jti, and a token not yet valid, gmac or not', async () => {
    for (const claims of [{ iss: 'someone-else' }, { aud: 'flexgate:entitlement' }, { sub: '' }, { jti: undefined }, { nbf: NOW + 60 }]) {
      await expect(verify(await issued(claims))).rejects.toMatchObject({ reason: 'claims' });
      await expect(verify(await legacy(claims))).rejects.toMatchObject({ reason: 'claims' });
    }
  });

  it('expires at exp: valid the second before, refused from that second on', async () => {
    const t = await issued({ exp: NOW + 10 });
    await expect(verify(t, NOW + 9)).resolves.toMatchObject({ exp: NOW + 10 });
    await expect(verify(t, NOW + 10)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('refuses anything that is not three base64url parts of JSON', async () => {
    const good = await issued();
    for (const bad of ['garbage', 'a.b.c', `${good}.x`, `${good}=`, good.replace('.', '.!'), `e30.e30.${good.split('.')[2]}`]) {
      await expect(verify(bad)).rejects.toMatchObject({ reason: expect.stringMatching(/malformed|header|signature/) });
    }
  });
});
