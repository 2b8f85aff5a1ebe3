/**
 * The console's entitlement inspector (R17) on tokens signed here with real Ed25519 keys: what an
 * admin reads for a genuine entitlement, an expired one, one signed by another key, an altered
 * one, and one whose claims are not an entitlement's. The page around it is the browser test's.
 */
import type { KeyObject } from 'node:crypto';
import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, newEd25519Pair, SIGNING_ALG } from '@flexgate/shared';
import { type JWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Inspection, inspectEntitlement } from './inspect';

const ISSUER = 'https://flexgate.example';
const NOW = new Date('2026-03-15T10:00:00Z');
const at = (d: Date) => Math.floor(d.getTime() / 1000);

type Key = KeyObject;
let ours: Key;
let stranger: Key;
let jwks: { keys: JWK[] };

// Made from random bytes: a key-generation job can deadlock Node 20 (shared/src/keys.ts).
beforeAll(() => {
  const [a, b] = [newEd25519Pair(), newEd25519Pair()];
  ours = a.privateKey;
  stranger = b.privateKey;
  jwks = { keys: [{ ...(a.publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1', alg: SIGNING_ALG }] };
});

interface Draft {
  key?: Key;
  kid?: string | null;
  typ?: string;
  aud?: string;
  iss?: string;
  exp?: number | null;
}

/** An entitlement as the gateway signs one, with whatever the test changes. */
function entitlement(d: Draft = {}): Promise<string> {
  const kid = d.kid === undefined ? 'k1' : d.kid;
  const jwt = new SignJWT({ product: 'autocad', source: 'flex' })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: d.typ ?? ENTITLEMENT_TYP, ...(kid !== null && { kid }) })
    .setSubject('ada@example.com')
    .setAudience(d.aud ?? ENTITLEMENT_AUDIENCE)
    .setIssuer(d.iss ?? ISSUER)
    .setIssuedAt(at(NOW) - 60);
  if (d.exp !== null) jwt.setExpirationTime(d.exp ?? at(NOW) + 3600);
  return jwt.sign(d.key ?? ours);
}

const inspect = (jws: string) => inspectEntitlement(jws, jwks, NOW, ISSUER);
function decoded(i: Inspection) {
  if (!i.ok) throw new Error(`not decoded: ${i.error}`);
  return { ...i, check: (label: string) => i.checks.find((c) => c.label === label) };
}

describe('the entitlement inspector (R17)', () => {
  it('passes a genuine entitlement on every line', async () => {
    const i = decoded(await inspect(await entitlement()));
    expect(i.signature).toEqual({ label: 'Signature', ok: true, detail: "Verifies against this gateway's key k1." });
    expect(i.checks.map((c) => [c.label, c.ok])).toEqual([
      ['Expiry', true],
      ['Type', true],
      ['Audience', true],
      ['Issuer', true],
    ]);
    expect(i.expired).toBe(false);
    expect(i.claims.sub).toBe('ada@example.com');
  });

  it('tells an expired but genuine entitlement from a forged one: expired at its exp second, still signed', async () => {
    const atNow = decoded(await inspect(await entitlement({ exp: at(NOW) })));
    expect(atNow.signature.ok).toBe(true);
    expect(atNow.expired).toBe(true);
    expect(atNow.check('Expiry')).toMatchObject({ ok: false, detail: 'Expired at 2026-03-15T10:00:00.000Z.' });
    const aSecondLater = decoded(await inspect(await entitlement({ exp: at(NOW) + 1 })));
    expect(aSecondLater.check('Expiry')).toMatchObject({ ok: true, detail: 'Valid until 2026-03-15T10:00:01.000Z.' });
    const never = decoded(await inspect(await entitlement({ exp: null })));
    expect(never.expired).toBeNull();
    expect(never.check('Expiry')).toMatchObject({ ok: false, detail: 'No exp claim.' });
  });

  it('names why a signature fails: another key, no kid, an altered payload', async () => {
    const foreign = decoded(await inspect(await entitlement({ key: stranger, kid: 'k9' })));
    expect(foreign.signature.ok).toBe(false);
    expect(foreign.signature.detail).toBe('Signed with key k9, which this gateway does not publish: not one of its entitlements.');
    const noKid = decoded(await inspect(await entitlement({ key: stranger, kid: null })));
    expect(noKid.signature.detail).toContain('Signed with key (no kid)');
    // Signed by a stranger under our kid: the key is known, the signature is not its.
    const posing = decoded(await inspect(await entitlement({ key: stranger })));
    expect(posing.signature.detail).toBe('Does NOT verify against key k1: the entitlement was altered after signing, or forged.');
    const [h, p, s] = (await entitlement()).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const altered = [h, Buffer.from(JSON.stringify({ ...claims, product: 'revit' })).toString('base64url'), s].join('.');
    const changed = decoded(await inspect(altered));
    expect(changed.signature.detail).toMatch(/^Does NOT verify against key k1/);
    expect(changed.claims.product).toBe('revit');
  });

  it('refuses an algorithm other than EdDSA by name, even under a known kid', async () => {
    const hmac = await new SignJWT({ product: 'autocad' })
      .setProtectedHeader({ alg: 'HS256', typ: ENTITLEMENT_TYP, kid: 'k1' })
      .setExpirationTime(at(NOW) + 60)
      .sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'));
    const i = decoded(await inspect(hmac));
    expect(i.signature).toMatchObject({ ok: false, detail: 'Algorithm HS256 is not accepted: this gateway signs with EdDSA only.' });
  });

  it('flags each claim that is not an entitlement of this gateway', async () => {
    for (const [draft, label, detail] of [
      [{ typ: 'JWT' }, 'Type', `typ is "JWT"; an entitlement has "${ENTITLEMENT_TYP}".`],
      [{ aud: 'flexgate:access' }, 'Audience', `aud is "flexgate:access"; expected "${ENTITLEMENT_AUDIENCE}".`],
      [{ iss: 'https://staging.example' }, 'Issuer', `iss is "https://staging.example"; this gateway is "${ISSUER}".`],
    ] as const) {
      const i = decoded(await inspect(await entitlement(draft)));
      expect(i.signature.ok, label).toBe(true);
      expect(
        i.checks.filter((c) => !c.ok).map((c) => c.label),
        label,
      ).toEqual([label]);
      expect(i.check(label)?.detail, label).toBe(detail);
    }
  });

  it('asks for an entitlement when given nothing, and says what is wrong with what is not one', async () => {
    expect(await inspect('  \n ')).toEqual({ ok: false, error: expect.stringMatching(/^Paste an entitlement/) });
    expect(await inspect('not a token')).toEqual({ ok: false, error: expect.stringMatching(/^This is not a compact JWS/) });
    expect(await inspect('e30.bm90IGpzb24.')).toEqual({
      ok: false,
      error: expect.stringMatching(/^The header or the claims cannot be decoded/),
    });
  });
});
