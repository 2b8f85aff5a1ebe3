import { verify as cryptoVerify, type KeyObject, randomBytes, sign } from 'node:crypto';
import { ENTITLEMENT_TYP, ID_TOKEN_AUDIENCE, ID_TOKEN_TYP, newEd25519Pair } from '@flexgate/shared';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { type IdTokenKey, signatureValid, verifyIdToken } from './verify-id-token';

// Tokens are made with jose, an independent JOSE implementation: what it signs with our keys this
// must accept; what our options refuse, this must refuse (test/e2e/auth.test.ts covers the same
// over HTTP: alg none, HS256 keyed with the public key, other keys, wrong audience, entitlements,
// expired tokens, and that a sign-in's token verifies against the JWKS as the client checks it).
const NOW = 1_800_000_000;
const ours = newEd25519Pair();
const theirs = newEd25519Pair();
// Every test runs both ways the gateway may hold a key: its public half only, and both halves
// (our own keys: a signature equal to the one we make passes without a verification).
const bySignature = new Map<string, IdTokenKey>([['k1', { publicKey: ours.publicKey }]]);
const signedAgain = new Map<string, IdTokenKey>([['k1', { publicKey: ours.publicKey, privateKey: ours.privateKey }]]);
const base = { iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: 'ann@example.com', iat: NOW - 60, exp: NOW + 3600, jti: 'idt_1' };

/** As the gateway issues them: EdDSA, signed by `key` (ours by default). */
function issued(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key: KeyObject = ours.privateKey): Promise<string> {
  return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: ID_TOKEN_TYP, ...header }).sign(key);
}
/** Signed by hand (Ed25519), for headers jose refuses to produce. */
function raw(header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), ours.privateKey).toString('base64url')}`;
}
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe.each([
  ['public key only', bySignature],
  ['our own key, signed again', signedAgain],
])('ID token verification (R17, SECURITY.md), %s', (_, keys) => {
  const verify = (t: string, now = NOW) => verifyIdToken(t, keys, 'flexgate', now);

  it('accepts a token as the gateway issues it, with every claim a launch relies on', async () => {
    const claims = await verify(await issued());
    expect(claims.sub).toBe('ann@example.com');
    expect(claims.exp).toBe(NOW + 3600);
    await expect(verify(await issued({ aud: ['other', ID_TOKEN_AUDIENCE] }))).resolves.toMatchObject({ sub: 'ann@example.com' });
  });

  it('refuses a token signed by any other key', async () => {
    await expect(verify(await issued({}, {}, theirs.privateKey))).rejects.toMatchObject({ reason: 'signature' });
  });

  it('refuses 1,000 random signatures and any claim changed under a real one (RFC 7515: the signature decides)', async () => {
    const [h, p, s] = (await issued()).split('.') as [string, string, string];
    for (let i = 0; i < 1000; i++) {
      await expect(verify(`${h}.${p}.${randomBytes(64).toString('base64url')}`)).rejects.toMatchObject({ reason: 'signature' });
    }
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    for (const change of [
      { sub: 'bob@example.com' },
      { exp: NOW + 999_999 },
      { iat: NOW + 1 },
      { jti: 'idt_2' },
      { aud: ['other'] },
      { fam: 'fam_x' },
    ]) {
      await expect(verify(`${h}.${b64({ ...claims, ...change })}.${s}`)).rejects.toMatchObject({ reason: 'signature' });
    }
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
    const hs = await new SignJWT({ ...base }).setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: ID_TOKEN_TYP }).sign(randomBytes(32));
    await expect(verify(hs)).rejects.toMatchObject({ reason: 'header' });
  });

  it('refuses wrong issuer or audience, missing sub or jti, and a token not yet valid', async () => {
    for (const claims of [{ iss: 'someone-else' }, { aud: 'flexgate:entitlement' }, { sub: '' }, { jti: undefined }, { nbf: NOW + 60 }]) {
      await expect(verify(await issued(claims))).rejects.toMatchObject({ reason: 'claims' });
    }
  });

  it('takes a sign-in order (rev) only as a whole number of at least 0', async () => {
    await expect(verify(await issued({ rev: 0 }))).resolves.toMatchObject({ rev: 0 });
    await expect(verify(await issued({ rev: 42 }))).resolves.toMatchObject({ rev: 42 });
    for (const rev of [-1, 1.5, '7', null]) await expect(verify(await issued({ rev }))).rejects.toMatchObject({ reason: 'claims' });
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

describe('signatureValid: signing again answers as verifying does', () => {
  it('agrees with an Ed25519 verification on valid, changed, foreign and random signatures', () => {
    const holders: IdTokenKey[] = [{ publicKey: ours.publicKey }, { publicKey: ours.publicKey, privateKey: ours.privateKey }];
    let valid = 0;
    for (let i = 0; i < 300; i++) {
      const input = randomBytes(1 + (i % 200));
      const good = sign(null, input, ours.privateKey);
      const changed = Buffer.from(good);
      changed[i % 64] = (changed[i % 64] as number) ^ (1 << (i % 8));
      for (const signature of [good, changed, sign(null, input, theirs.privateKey), randomBytes(64), Buffer.alloc(64)]) {
        const expected = cryptoVerify(null, input, ours.publicKey, signature);
        if (expected) valid++;
        for (const key of holders) expect(signatureValid(input, signature, key)).toBe(expected);
      }
    }
    expect(valid).toBe(300);
  });
});
