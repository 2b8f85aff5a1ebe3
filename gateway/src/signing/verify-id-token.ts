import { createHmac, hkdfSync, type KeyObject, verify as cryptoVerify, timingSafeEqual } from 'node:crypto';
import { ID_TOKEN_AUDIENCE, ID_TOKEN_ALG, ID_TOKEN_TYP, type IdTokenClaims, SIGNING_ALG } from '@flexgate/shared';

/** One signing key as the ID-token verifier needs it: its public half, and the MAC key derived from it. */
export interface IdTokenKey {
  publicKey: KeyObject;
  macKey: Buffer;
}

/**
 * The HMAC key of a signing key's ID tokens: HKDF-SHA256 over the Ed25519 private key (the JWK's
 * `d`), bound to its kid. Only the gateway ever verifies an ID token, so nothing public is needed
 * to check one; whoever holds the private key could sign ID tokens anyway, so this adds no one to
 * the trust boundary. Rotating the signing key rotates this one with it (same kid, same retention).
 */
export function idTokenMacKey(privateD: Buffer, kid: string): Buffer {
  return Buffer.from(hkdfSync('sha256', privateD, 'flexgate id-token v1', kid, 32));
}

/** The MAC of a compact JWS's signing input (`header.payload`), base64url: what HS256 signs. */
export function idTokenMac(input: string, macKey: Buffer): string {
  return createHmac('sha256', macKey).update(input).digest('base64url');
}

/** Why a token was refused; `no-key` means its kid is not (yet) one of ours: worth a key reload. */
export class TokenRejected extends Error {
  constructor(readonly reason: 'malformed' | 'header' | 'no-key' | 'signature' | 'claims' | 'expired') {
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
 * Verifies one of our own ID tokens (compact JWS, RFC 7515) with the same checks jose's
 * `jwtVerify` made with our options. ID tokens are HS256 (HMAC-SHA256 under `idTokenMacKey`):
 * about 3 µs on the main thread, where an Ed25519 verification cost 170-290 µs of CPU here, paid
 * at the first launch of every new token, which made it the largest single cost of a cold launch
 * (issue 7). EdDSA ID tokens, which earlier versions issued, are still accepted until they expire,
 * verified on libuv's thread pool by the kid's public key. Each alg has its own key material bound
 * to the kid: no HMAC key is ever public, so the classic confusion (an HS256 token "signed" with
 * the public key) is refused like any other forgery.
 *
 * Accepted only: exactly three base64url parts; a JSON header with alg HS256 or EdDSA, our
 * ID-token typ, a kid we hold and no `crit`; a valid signature (32-byte MAC, 64-byte Ed25519) by
 * that kid's key over the first two parts; a JSON payload with our issuer, our ID-token audience, a
 * non-empty string `sub` and `jti`, numeric `iat` and `exp`, `exp` in the future and `nbf`, if
 * any, not. Everything else is refused.
 */
export async function verifyIdToken(token: string, keys: ReadonlyMap<string, IdTokenKey>, issuer: string, nowSeconds: number): Promise<IdTokenClaims> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) throw new TokenRejected('malformed');
  const [h, p, s] = parts as [string, string, string];
  const header = object(h);
  const { alg } = header;
  if ((alg !== ID_TOKEN_ALG && alg !== SIGNING_ALG) || header.typ !== ID_TOKEN_TYP || typeof header.kid !== 'string' || 'crit' in header) {
    throw new TokenRejected('header');
  }
  const key = keys.get(header.kid);
  if (!key) throw new TokenRejected('no-key');
  const signature = Buffer.from(s, 'base64url');
  if (signature.length !== (alg === ID_TOKEN_ALG ? 32 : 64)) throw new TokenRejected('signature');
  const valid =
    alg === ID_TOKEN_ALG
      ? timingSafeEqual(signature, Buffer.from(idTokenMac(`${h}.${p}`, key.macKey), 'base64url'))
      : await new Promise<boolean>((resolve, reject) => {
          cryptoVerify(null, Buffer.from(`${h}.${p}`), key.publicKey, signature, (error, ok) => (error ? reject(error) : resolve(ok)));
        });
  if (!valid) throw new TokenRejected('signature');
  const claims = object(p);
  const { iss, aud, sub, jti, iat, exp, nbf } = claims;
  const audienceOk = aud === ID_TOKEN_AUDIENCE || (Array.isArray(aud) && aud.includes(ID_TOKEN_AUDIENCE));
  if (iss !== issuer || !audienceOk || typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
    throw new TokenRejected('claims');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) throw new TokenRejected('claims');
  if (exp <= nowSeconds) throw new TokenRejected('expired');
  return claims as unknown as IdTokenClaims;
}
