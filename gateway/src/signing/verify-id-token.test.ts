import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { ENTITLEMENT_TYP, ID_TOKEN_AUDIENCE, ID_TOKEN_TYP } from '@flexgate/shared';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyIdToken } from './verify-id-token';

// Tokens are made with jose, the library the gateway used to verify with: what it signs, this
// must accept; what the old options refused, this must refuse (test/e2e/auth.test.ts covers the
// same over HTTP: alg none, HS256, other keys, wrong audience, entitlements, expired tokens).
const NOW = 1_800_000_000;
const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');
const keys = new Map<string, KeyObject>([['k1', ours.publicKey]]);

function token(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key = ours.privateKey): Promise<string> {
  return new SignJWT({ iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW - 60, exp: NOW + 3600, jti: 'idt_1', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, ...header })
    .sign(key);
}
/** Signed by hand, for headers jose refuses to produce. */
function raw(header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), ours.privateKey).toString('base64url')}`;
}
const verify = (t: string, now = NOW) => verifyIdToken(t, keys, 'flexgate', now);

describe('ID token verification (node:crypto, R17)', () => {
  it('accepts a token signed by one of our keys, with every claim a launch relies on', async () => {
    const claims = await verify(await token());
    expect(claims.sub).toBe('ann@example.com');
    expect(claims.exp).toBe(NOW + 3600);
    await expect(verify(await token({ aud: ['other', ID_TOKEN_AUDIENCE] }))).resolves.toMatchObject({ sub: 'ann@example.com' });
  });

  it('refuses a kid it does not hold as "no-key", which makes the gateway reload its keys once', async () => {
    await expect(verify(await token({}, { kid: 'k2' }))).rejects.toMatchObject({ reason: 'no-key' });
  });

  it('refuses another key, a tampered payload and a signature moved from another token', async () => {
    await expect(verify(await token({}, {}, theirs.privateKey))).rejects.toMatchObject({ reason: 'signature' });
    const [h, , s] = (await token()).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'bob@example.com', iat: NOW, exp: NOW + 3600, jti: 'x' })).toString('base64url');
    await expect(verify(`${h}.${forged}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses headers other than ours: typ of an entitlement, crit, another alg', async () => {
    await expect(verify(await token({}, { typ: ENTITLEMENT_TYP }))).rejects.toMatchObject({ reason: 'header' });
    const payload = { iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW, exp: NOW + 60, jti: 'j' };
    expect((await verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP }, payload))).sub).toBe('ann@example.com');
    await expect(verify(raw({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, crit: ['x'], x: 1 }, payload))).rejects.toMatchObject({ reason: 'header' });
    const [, p, s] = (await token()).split('.');
    const hs = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'k1', typ: ID_TOKEN_TYP })).toString('base64url');
    await expect(verify(`${hs}.${p}.${s}`)).rejects.toMatchObject({ reason: 'header' });
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
