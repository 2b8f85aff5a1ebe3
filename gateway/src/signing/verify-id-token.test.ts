import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { ENTITLEMENT_TYP, ID_TOKEN_AUDIENCE, ID_TOKEN_TYP } from '@flexgate/shared';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { type IdTokenKey, idTokenMacKey, verifyIdToken } from './verify-id-token';

// Tokens are made with jose, an independent JOSE implementation: what it signs with our keys this
// must accept; what our options refuse, this must refuse (test/e2e/auth.test.ts covers the same
// over HTTP: alg none, HS256 keyed with the public key, other keys, wrong audience, entitlements,
// expired tokens).
const NOW = 1_800_000_000;
const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');
const d = (k: KeyObject) => Buffer.from(String(k.export({ format: 'jwk' }).d), 'base64url');
const ourMac = idTokenMacKey(d(ours.privateKey), 'k1');
const keys = new Map<string, IdTokenKey>([['k1', { publicKey: ours.publicKey, macKey: ourMac }]]);

/** HS256 under a MAC key (ours by default), as the gateway issues them. */
function token(claims: JWTPayload = {}, header: Record<string, unknown> = {}, macKey: Uint8Array = ourMac): Promise<string> {
  return new SignJWT({ iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW - 60, exp: NOW + 3600, jti: 'idt_1', ...claims })
    .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: ID_TOKEN_TYP, ...header })
    .sign(macKey);
}
/** EdDSA, as earlier versions issued them. */
function legacy(claims: JWTPayload = {}, key = ours.privateKey): Promise<string> {
  return new SignJWT({ iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW - 60, exp: NOW + 3600, jti: 'idt_1', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP })
    .sign(key);
}
/** Signed by hand (Ed25519), for headers jose refuses to produce. */
function raw(header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), ours.privateKey).toString('base64url')}`;
}
const verify = (t: string, now = NOW) => verifyIdToken(t, keys, 'flexgate', now);

describe('ID token verification (R17, SECURITY.md)', () => {
  it('accepts an HS256 token under our kid, with every claim a launch relies on', async () => {
    const claims = await verify(await token());
    expect(claims.sub).toBe('ann@example.com');
    expect(claims.exp).toBe(NOW + 3600);
    await expect(verify(await token({ aud: ['other', ID_TOKEN_AUDIENCE] }))).resolves.toMatchObject({ sub: 'ann@example.com' });
  });

  it('still accepts an EdDSA token of an earlier version until it expires, and refuses one by another key', async () => {
    await expect(verify(await legacy())).resolves.toMatchObject({ sub: 'ann@example.com' });
    await expect(verify(await legacy({}, theirs.privateKey))).rejects.toMatchObject({ reason: 'signature' });
    await expect(verify(await legacy({ exp: NOW }))).rejects.toMatchObject({ reason: 'expired' });
  });

  it('derives a different MAC key per signing key and per kid, none of them public', async () => {
    expect(idTokenMacKey(d(ours.privateKey), 'k2').equals(ourMac)).toBe(false);
    expect(idTokenMacKey(d(theirs.privateKey), 'k1').equals(ourMac)).toBe(false);
    await expect(verify(await token({}, {}, idTokenMacKey(d(theirs.privateKey), 'k1')))).rejects.toMatchObject({ reason: 'signature' });
    const publicDer = ours.publicKey.export({ format: 'der', type: 'spki' });
    const publicRaw = Buffer.from(String(ours.publicKey.export({ format: 'jwk' }).x), 'base64url');
    for (const secret of [publicDer, publicRaw, randomBytes(32)]) {
      await expect(verify(await token({}, {}, secret))).rejects.toMatchObject({ reason: 'signature' });
    }
  });

  it('refuses a kid it does not hold as "no-key", which makes the gateway reload its keys once', async () => {
    await expect(verify(await token({}, { kid: 'k2' }))).rejects.toMatchObject({ reason: 'no-key' });
  });

  it('refuses a tampered payload, a MAC moved from another token and a truncated MAC', async () => {
    const [h, , s] = (await token()).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'bob@example.com', iat: NOW, exp: NOW + 3600, jti: 'x' })).toString('base64url');
    await expect(verify(`${h}.${forged}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    const [, p2] = (await token({ sub: 'bob@example.com' })).split('.');
    await expect(verify(`${h}.${p2}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    await expect(verify(`${h}.${p2}.${s?.slice(0, 40)}`)).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses headers other than ours: typ of an entitlement, crit, another alg, an alg swapped under a signature', async () => {
    await expect(verify(await token({}, { typ: ENTITLEMENT_TYP }))).rejects.toMatchObject({ reason: 'header' });
    const payload = { iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW, exp: NOW + 60, jti: 'j' };
    expect((await verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP }, payload))).sub).toBe('ann@example.com');
    await expect(verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, crit: ['x'], x: 1 }, payload))).rejects.toMatchObject({ reason: 'header' });
    await expect(verify(await token({}, { alg: 'HS512' }, new Uint8Array(64).fill(1)))).rejects.toMatchObject({ reason: 'header' });
    const [, p, s] = (await legacy()).split('.');
    const hs = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'k1', typ: ID_TOKEN_TYP })).toString('base64url');
    await expect(verify(`${hs}.${p}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    const [, p3, mac] = (await token()).split('.');
    const ed = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP })).toString('base64url');
    await expect(verify(`${ed}.${p3}.${mac}`)).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses wrong issuer or audience, missing sub or jti, and a token not yet valid', async () => {
    for (const claims of [{ iss: 'someone-else' }, { aud: 'flexgate:entitlement' }, { sub: '' }, { jti: undefined }, { nbf: NOW + 60 }]) {
      await expect(verify(await token(claims))).rejects.toMatchObject({ reason: 'claims' });
    }
  });

  it('expires at exp: valid the second before, refused from that second on', async () => {
    const t = await token({ exp: NOW + 10 });
    await expect(verify(t, NOW + 9)).resolves.toMatchObject({ exp: NOW + 10 });
    await expect(verify(t, NOW + 10)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('refuses anything that is not three base64url parts of JSON', async () => {
    const good = await token();
    for (const bad of ['garbage', 'a.b.c', `${good}.x`, `${good}=`, good.replace('.', '.!'), `e30.e30.${good.split('.')[2]}`]) {
      await expect(verify(bad)).rejects.toMatchObject({ reason: expect.stringMatching(/malformed|header|signature/) });
    }
  });
});
