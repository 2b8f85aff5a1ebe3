import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, SIGNING_ALG } from '@flexgate/shared';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';

export interface Check {
  label: string;
  ok: boolean;
  detail: string;
}

export type Inspection =
  | { ok: false; error: string }
  | {
      ok: true;
      header: Record<string, unknown>;
      claims: Record<string, unknown>;
      /** R17: whether the signature verifies against the keys this gateway publishes. */
      signature: Check;
      checks: Check[];
      issuedAt: string | null;
      expiresAt: string | null;
      expired: boolean | null;
    };

const asInstant = (v: unknown): string | null => (typeof v === 'number' && Number.isFinite(v) ? new Date(v * 1000).toISOString() : null);

/**
 * The entitlement inspector: decodes a pasted compact JWS for display (the payload of a JWS is
 * readable by anyone, so nothing here is secret), and verifies its signature against this
 * gateway's JWKS separately from its expiry, so an expired but genuine entitlement is told apart
 * from a forged or tampered one.
 */
export async function inspectEntitlement(input: string, jwks: { keys: JWK[] }, now: Date, issuer: string): Promise<Inspection> {
  const jws = input.replace(/\s+/g, '');
  if (jws === '') return { ok: false, error: 'Paste an entitlement: a compact JWS, three base64url parts separated by dots.' };
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(jws)) {
    return { ok: false, error: 'This is not a compact JWS: expected three base64url parts separated by dots.' };
  }
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws) as Record<string, unknown>;
    claims = decodeJwt(jws) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, error: `The header or the claims cannot be decoded: ${(error as Error).message}` };
  }

  let signature: Check;
  const kid = typeof header.kid === 'string' ? header.kid : null;
  const known = kid !== null && jwks.keys.some((k) => k.kid === kid);
  try {
    await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: [SIGNING_ALG] });
    signature = { label: 'Signature', ok: true, detail: `Verifies against this gateway's key ${kid ?? '(no kid)'}.` };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const detail =
      header.alg !== SIGNING_ALG
        ? `Algorithm ${String(header.alg)} is not accepted: this gateway signs with ${SIGNING_ALG} only.`
        : !known
          ? `Signed with key ${kid ?? '(no kid)'}, which this gateway does not publish: not one of its entitlements.`
          : code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
            ? `Does NOT verify against key ${kid}: the entitlement was altered after signing, or forged.`
            : `Does not verify: ${(error as Error).message}`;
    signature = { label: 'Signature', ok: false, detail };
  }

  const expiresAt = asInstant(claims.exp);
  const issuedAt = asInstant(claims.iat);
  const expired = expiresAt === null ? null : Date.parse(expiresAt) <= now.getTime();
  const checks: Check[] = [
    {
      label: 'Expiry',
      ok: expired === false,
      detail: expiresAt === null ? 'No exp claim.' : expired ? `Expired at ${expiresAt}.` : `Valid until ${expiresAt}.`,
    },
    {
      label: 'Type',
      ok: header.typ === ENTITLEMENT_TYP,
      detail: `typ is ${JSON.stringify(header.typ ?? null)}; an entitlement has "${ENTITLEMENT_TYP}".`,
    },
    {
      label: 'Audience',
      ok: claims.aud === ENTITLEMENT_AUDIENCE,
      detail: `aud is ${JSON.stringify(claims.aud ?? null)}; expected "${ENTITLEMENT_AUDIENCE}".`,
    },
    { label: 'Issuer', ok: claims.iss === issuer, detail: `iss is ${JSON.stringify(claims.iss ?? null)}; this gateway is "${issuer}".` },
  ];
  return { ok: true, header, claims, signature, checks, issuedAt, expiresAt, expired };
}
