import {
  ENTITLEMENT_AUDIENCE,
  ENTITLEMENT_TYP,
  type EntitlementClaims,
  ID_TOKEN_AUDIENCE,
  ID_TOKEN_TYP,
  SIGNING_ALG,
} from '@flexgate/shared';
import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';

/** Why an entitlement was not believed. */
export type RejectionCode =
  | 'malformed'
  | 'wrong-algorithm'
  | 'wrong-type'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'wrong-product'
  | 'wrong-subject';

export class EntitlementRejected extends Error {
  override readonly name = 'EntitlementRejected';
  constructor(
    readonly code: RejectionCode,
    message: string,
  ) {
    super(message);
  }
}

/** Only the gateway's own key type: an `oct` or RSA key slipped into the set is dropped, never used. */
const okpKey = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().min(1),
  kid: z.string().min(1),
  alg: z.literal(SIGNING_ALG).optional(),
  use: z.literal('sig').optional(),
});
export type EntitlementJwk = z.infer<typeof okpKey>;
export interface Jwks {
  keys: EntitlementJwk[];
}

export function parseJwks(value: unknown): Jwks {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('JWKS has no "keys" array');
  const usable: EntitlementJwk[] = [];
  for (const key of keys) {
    const parsed = okpKey.safeParse(key);
    if (parsed.success) usable.push(parsed.data);
  }
  return { keys: usable };
}

const claimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.string().min(1),
  product: z.string().min(1),
  source: z.enum(['subscription', 'trial', 'flex']),
  team: z.string().nullable(),
  sid: z.string().nullable(),
  // Display names (optional: older entitlements lack them); listed so that parsing keeps them.
  productName: z.string().optional(),
  teamName: z.string().nullable().optional(),
  iat: z.number(),
  exp: z.number(),
  jti: z.string().min(1),
});

/**
 * The JWKS the client trusts: in memory, backed by the disk cache, refreshed from the gateway
 * only when an entitlement names a key it does not know.
 */
export interface KeyStore {
  /** The known keys: memory, then disk, then (if `network`) the gateway. Null when none can be had. */
  current(network: boolean): Promise<Jwks | null>;
  /** One fetch from the gateway; concurrent callers share it. Null when the gateway is unreachable. */
  refresh(): Promise<Jwks | null>;
}

export interface KeyStoreDeps {
  fetch: () => Promise<unknown>;
  load: () => Promise<unknown | null>;
  save: (jwks: Jwks) => Promise<void>;
}

export function createKeyStore(deps: KeyStoreDeps): KeyStore {
  let known: Jwks | null = null;
  let inFlight: Promise<Jwks | null> | null = null;

  function refresh(): Promise<Jwks | null> {
    inFlight ??= (async () => {
      try {
        const jwks = parseJwks(await deps.fetch());
        known = jwks;
        await deps.save(jwks);
        return jwks;
      } catch {
        return null;
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  return {
    async current(network) {
      if (known) return known;
      const stored = await deps.load().catch(() => null);
      if (stored) {
        try {
          known = parseJwks(stored);
          return known;
        } catch {
          // A damaged cache file is as good as none: fall through to the network.
        }
      }
      return network ? refresh() : null;
    },
    refresh,
  };
}

export interface VerifierOptions {
  issuer: string;
  clockSkewSec: number;
  now: () => Date;
}

export interface Expectation {
  product: string;
  /** The Autodesk ID that signed in. */
  sub: string;
  /** False when reading the cache offline: a key the cached JWKS lacks is then a refusal. */
  allowRefresh: boolean;
  /** Proof of an earlier grant only: the signature and claims count, the dates do not. */
  ignoreExpiry?: boolean;
}

export interface Verifier {
  verify(jws: string, expect: Expectation): Promise<EntitlementClaims>;
}

export function createVerifier(keys: KeyStore, options: VerifierOptions): Verifier {
  return {
    async verify(jws, expect) {
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(jws);
      } catch {
        throw new EntitlementRejected('malformed', 'The entitlement is not a compact JWS.');
      }
      // Checked before any key lookup so a forged header can never cost a JWKS refresh.
      if (header.alg !== SIGNING_ALG) {
        throw new EntitlementRejected('wrong-algorithm', `Entitlement algorithm ${String(header.alg)} is not accepted.`);
      }
      if (header.typ !== ENTITLEMENT_TYP) {
        throw new EntitlementRejected('wrong-type', `Token type ${String(header.typ)} is not an entitlement.`);
      }
      const kid = header.kid;
      if (typeof kid !== 'string' || kid.length === 0) {
        throw new EntitlementRejected('malformed', 'The entitlement names no signing key (kid).');
      }

      // Memory or disk first; the network only for a key not seen yet, and then exactly once.
      let jwks = await keys.current(false);
      if (!jwks?.keys.some((k) => k.kid === kid) && expect.allowRefresh) jwks = await keys.refresh();
      if (!jwks?.keys.some((k) => k.kid === kid)) {
        throw new EntitlementRejected('unknown-key', `The entitlement is signed by an unknown key (${kid}).`);
      }

      let payload: unknown;
      try {
        const result = await jwtVerify(jws, createLocalJWKSet(jwks as JSONWebKeySet), {
          algorithms: [SIGNING_ALG],
          typ: ENTITLEMENT_TYP,
          issuer: options.issuer,
          audience: ENTITLEMENT_AUDIENCE,
          // jose has no switch for skipping `exp`; the epoch is before every real `exp`.
          currentDate: expect.ignoreExpiry ? new Date(0) : options.now(),
          clockTolerance: options.clockSkewSec,
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        });
        payload = result.payload;
      } catch (err) {
        throw toRejection(err);
      }

      const parsed = claimsSchema.safeParse(payload);
      if (!parsed.success) throw new EntitlementRejected('malformed', 'The entitlement lacks required claims.');
      const claims = parsed.data;
      if (claims.product !== expect.product) {
        throw new EntitlementRejected('wrong-product', `The entitlement is for ${claims.product}, not ${expect.product}.`);
      }
      if (claims.sub !== expect.sub.toLowerCase()) {
        throw new EntitlementRejected('wrong-subject', 'The entitlement was issued to another Autodesk ID.');
      }
      return claims;
    },
  };
}

function toRejection(err: unknown): EntitlementRejected {
  if (err instanceof errors.JWTExpired) return new EntitlementRejected('expired', 'The entitlement has expired.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return new EntitlementRejected('wrong-issuer', 'The entitlement has another issuer.');
    if (err.claim === 'aud') return new EntitlementRejected('wrong-audience', 'The entitlement is not meant for this client.');
    return new EntitlementRejected('malformed', `Entitlement claim check failed: ${err.message}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new EntitlementRejected('bad-signature', 'The entitlement signature does not verify.');
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new EntitlementRejected('wrong-algorithm', 'Algorithm not accepted.');
  if (err instanceof errors.JWKSNoMatchingKey) return new EntitlementRejected('unknown-key', 'No key matches the entitlement.');
  const message = err instanceof Error ? err.message : String(err);
  return new EntitlementRejected('malformed', `The entitlement could not be verified: ${message}`);
}

/**
 * When the gateway issued this ID token, if its signature verifies against the known keys.
 * Proof of a recent sign-in that cannot be made by editing a file (provisional launches).
 */
export async function idTokenIssuedAt(keys: KeyStore, token: string, expect: { issuer: string; sub: string }): Promise<Date | null> {
  try {
    const jwks = await keys.current(false);
    if (!jwks) return null;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as JSONWebKeySet), {
      algorithms: [SIGNING_ALG],
      typ: ID_TOKEN_TYP,
      issuer: expect.issuer,
      audience: ID_TOKEN_AUDIENCE,
      subject: expect.sub.toLowerCase(),
      // Only the issue instant matters here; an expired ID token still proves when it was issued.
      currentDate: new Date(0),
    });
    return typeof payload.iat === 'number' ? new Date(payload.iat * 1000) : null;
  } catch {
    return null;
  }
}
