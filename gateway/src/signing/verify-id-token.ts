import { verify as cryptoVerify, type KeyObject, timingSafeEqual } from 'node:crypto';
import { ID_TOKEN_AUDIENCE, ID_TOKEN_TYP, type IdTokenClaims, SIGNING_ALG } from '@flexgate/shared';
import { ed25519Sign } from './ed25519';

/** One signing key as the access-token verifier needs it: its public half, and its private half when it is ours. */
export interface IdTokenKey {
  publicKey: KeyObject;
  /** The private half of `publicKey` itself (the key ring checks they match): any other would pass its own signatures. */
  privateKey?: KeyObject;
}

/** Why a token was refused; `no-key` means its kid is not (yet) one of ours: worth a key reload. */
export class TokenRejected extends Error {
  constructor(readonly reason: 'malformed' | 'header' | 'no-key' | 'signature' | 'claims' | 'expired' | 'revoked') {
    super(`ID token rejected: ${reason}`);
  }
}

const PART = /^[A-Za-z0-9_-]+$/;

function object(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenRejected('malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenRejected('malformed');
  return value as Record<string, unknown>;
}

/**
 * Whether `signature` is a valid Ed25519 signature of `input` by `key`. Ed25519 signs
 * deterministically (RFC 8032), so with the private half a signature equal to the one we make is
 * valid, and signing costs a third of verifying; any other is verified, so the answer is the
 * verification's either way. Compared in constant time: the signature we make must not leak.
 */
export function signatureValid(input: Buffer, signature: Buffer, key: IdTokenKey): boolean {
  if (key.privateKey) {
    const ours = ed25519Sign(key.privateKey, input);
    if (ours.length === signature.length && timingSafeEqual(ours, signature)) return true;
  }
  return cryptoVerify(null, input, key.publicKey, signature);
}

/**
 * Verifies one of our own access (ID) tokens: a compact JWS, EdDSA over Ed25519 (RFC 7515/8037),
 * with the checks jose's `jwtVerify` makes with our options. Its signature is always checked, in
 * line (`signatureValid`); the key ring caches what passed, so each token costs one check per
 * instance, and none on the instance that issued it.
 *
 * Accepted only: exactly three base64url parts; a JSON header with alg EdDSA, our ID-token typ, a
 * kid we hold and no `crit`; a valid 64-byte Ed25519 signature by that kid's key over the first
 * two parts; a JSON payload with our issuer, our ID-token audience, a non-empty string `sub` and
 * `jti`, numeric `iat` and `exp`, `exp` in the future and `nbf`, if any, not, and `rev`, if any, a
 * whole number of at least 0. Everything else is refused.
 */
export async function verifyIdToken(
  token: string,
  keys: ReadonlyMap<string, IdTokenKey>,
  issuer: string,
  nowSeconds: number,
): Promise<IdTokenClaims> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) throw new TokenRejected('malformed');
  const [h, p, s] = parts as [string, string, string];
  const header = object(h);
  if (header.alg !== SIGNING_ALG || header.typ !== ID_TOKEN_TYP || typeof header.kid !== 'string' || 'crit' in header)
    throw new TokenRejected('header');
  const key = keys.get(header.kid);
  if (!key) throw new TokenRejected('no-key');
  const signature = Buffer.from(s, 'base64url');
  if (signature.length !== 64) throw new TokenRejected('signature');
  const claims = object(p);
  // In line, like signing (jws.ts): the pool's hand-off costs about what the check does.
  if (!signatureValid(Buffer.from(`${h}.${p}`), signature, key)) throw new TokenRejected('signature');
  const { iss, aud, sub, jti, iat, exp, nbf, rev } = claims;
  const audienceOk = aud === ID_TOKEN_AUDIENCE || (Array.isArray(aud) && aud.includes(ID_TOKEN_AUDIENCE));
  if (
    iss !== issuer ||
    !audienceOk ||
    typeof sub !== 'string' ||
    sub === '' ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    (rev !== undefined && !(Number.isSafeInteger(rev) && (rev as number) >= 0))
  ) {
    throw new TokenRejected('claims');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) throw new TokenRejected('claims');
  if (exp <= nowSeconds) throw new TokenRejected('expired');
  return claims as unknown as IdTokenClaims;
}
