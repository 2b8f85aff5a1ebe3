import { createHmac, verify as cryptoVerify, hkdfSync, type KeyObject, timingSafeEqual } from 'node:crypto';
import { ID_TOKEN_AUDIENCE, ID_TOKEN_TYP, type IdTokenClaims, SIGNING_ALG } from '@flexgate/shared';

/** One signing key as the ID-token verifier needs it: its public half, and the MAC key derived from it. */
export interface IdTokenKey {
  publicKey: KeyObject;
  macKey: Buffer;
}

/**
 * The MAC key of a signing key's ID tokens: HKDF-SHA256 over the Ed25519 private key (the JWK's
 * `d`), bound to its kid. Never published; rotated and retired with its signing key; whoever holds
 * the private key could sign ID tokens anyway, so it adds no one to the trust boundary.
 */
export function idTokenMacKey(privateD: Buffer, kid: string): Buffer {
  return Buffer.from(hkdfSync('sha256', privateD, 'flexgate id-token v1', kid, 32));
}

/**
 * The `gmac` claim: HMAC-SHA256 over every claim the gateway relies on, in a fixed order (JSON of
 * an array: unambiguous). base64url.
 */
export function idTokenClaimsMac(claims: Record<string, unknown>, macKey: Buffer): string {
  return claimsMac(claims, macKey).toString('base64url');
}

function claimsMac(claims: Record<string, unknown>, macKey: Buffer): Buffer {
  const covered = [claims.iss, claims.aud, claims.sub, claims.iat, claims.exp, claims.nbf ?? null, claims.jti];
  return createHmac('sha256', macKey).update(JSON.stringify(covered)).digest();
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
 * Verifies one of our own ID tokens (compact JWS, EdDSA over Ed25519, RFC 7515/8037) with the
 * checks jose's `jwtVerify` made with our options.
 *
 * The gateway's own check is a MAC, not the signature: an Ed25519 verification was the largest
 * single cost of a cold launch; a MAC is far cheaper (BENCHMARKS.md). The signature stays for the
 * client, which verifies ID tokens offline (their `iat` proves a recent sign-in for provisional
 * launches). A token with `gmac` (`idTokenClaimsMac`) is accepted on that MAC, which only we can
 * make, whatever its signature; one without (earlier versions) on its signature.
 *
 * Accepted only: exactly three base64url parts; a JSON header with alg EdDSA, our ID-token typ, a
 * kid we hold and no `crit`; a 64-byte signature part; a `gmac` by that kid's MAC key, or without
 * one a valid Ed25519 signature by that kid's key over the first two parts; a JSON payload with
 * our issuer, our ID-token audience, a non-empty string `sub` and `jti`, numeric `iat` and `exp`,
 * `exp` in the future and `nbf`, if any, not. Everything else is refused.
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
  let valid: boolean;
  if (claims.gmac !== undefined) {
    const mac = typeof claims.gmac === 'string' ? Buffer.from(claims.gmac, 'base64url') : Buffer.alloc(0);
    valid = mac.length === 32 && timingSafeEqual(mac, claimsMac(claims, key.macKey));
  } else {
    valid = await new Promise<boolean>((resolve, reject) => {
      cryptoVerify(null, Buffer.from(`${h}.${p}`), key.publicKey, signature, (error, ok) => (error ? reject(error) : resolve(ok)));
    });
  }
  if (!valid) throw new TokenRejected('signature');
  const { iss, aud, sub, jti, iat, exp, nbf } = claims;
  const audienceOk = aud === ID_TOKEN_AUDIENCE || (Array.isArray(aud) && aud.includes(ID_TOKEN_AUDIENCE));
  if (
    iss !== issuer ||
    !audienceOk ||
    typeof sub !== 'string' ||
    sub === '' ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    throw new TokenRejected('claims');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) throw new TokenRejected('claims');
  if (exp <= nowSeconds) throw new TokenRejected('expired');
  return claims as unknown as IdTokenClaims;
}
