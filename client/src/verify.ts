import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, type EntitlementClaims, KEY_SET_TYP, SIGNING_ALG } from '@flexgate/shared';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, errors, importJWK, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';

/** Why an entitlement was not believed. */
export type RejectionCode =
  | 'malformed'
  | 'wrong-algorithm'
  | 'wrong-type'
  | 'unknown-key'
  | 'revoked-key'
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

/** The root's public key: Ed25519 only (RFC 8037). */
const rootKey = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  kid: z.string().optional(),
  alg: z.literal(SIGNING_ALG).optional(),
  use: z.literal('sig').optional(),
});
export type RootJwk = z.infer<typeof rootKey>;

/**
 * The root public key a product embeds, as the gateway publishes it (`/.well-known/flexgate-root.json`,
 * or that JWK's JSON text), or its RFC 7638 thumbprint: 43 base64url characters. With a
 * thumbprint the client fetches the root's JWK once and keeps it only if the thumbprint matches.
 */
export type TrustRoot = string | RootJwk;

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

export class TrustError extends Error {
  override readonly name = 'TrustError';
}

/** Throws a TrustError at once for a trust setting that can be no root key at all. */
export function checkTrust(trust: TrustRoot): void {
  if (typeof trust === 'string' && THUMBPRINT.test(trust.trim())) return;
  let value: unknown = trust;
  if (typeof trust === 'string') {
    try {
      value = JSON.parse(trust);
    } catch {
      throw new TrustError('The trust root must be the root key as a JWK (JSON) or its RFC 7638 thumbprint (43 characters).');
    }
  }
  if (!rootKey.safeParse(value).success)
    throw new TrustError('The trust root must be an Ed25519 public key (JWK: kty OKP, crv Ed25519, x).');
}

/** The trust setting, checked: the root JWK when it was given whole, and the thumbprint it must have. */
export async function parseTrust(trust: TrustRoot): Promise<{ thumbprint: string; root: RootJwk | null }> {
  checkTrust(trust);
  if (typeof trust === 'string' && THUMBPRINT.test(trust.trim())) return { thumbprint: trust.trim(), root: null };
  const root = rootKey.parse(typeof trust === 'string' ? JSON.parse(trust) : trust);
  return { thumbprint: await thumbprintOf(root), root };
}

export function thumbprintOf(jwk: RootJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
}

/** An Ed25519 public JWK, or null. */
export function parseRootJwk(value: unknown): RootJwk | null {
  const parsed = rootKey.safeParse(value);
  return parsed.success ? { kty: parsed.data.kty, crv: parsed.data.crv, x: parsed.data.x } : null;
}

/** A root JWK fetched from the network, kept only if it is the one the client was configured with. */
export async function rootMatching(value: unknown, thumbprint: string): Promise<RootJwk | null> {
  const parsed = rootKey.safeParse(value);
  if (!parsed.success) return null;
  return (await thumbprintOf(parsed.data)) === thumbprint ? parsed.data : null;
}

const keySetClaims = z.object({
  iss: z.string(),
  ver: z.number().int().nonnegative(),
  iat: z.number(),
  keys: z.array(z.unknown()),
  revoked: z.array(z.string()),
});

/** The signing keys the root vouches for: a verified key set. `jws` is kept as it came, to be verified again when loaded. */
export interface KeySet {
  ver: number;
  /** When the gateway signed it, in seconds. */
  iat: number;
  keys: EntitlementJwk[];
  revoked: string[];
  jws: string;
}

/** Verifies a key set against the root key; a revoked kid is never among its keys, whatever it lists. */
export async function verifyKeySet(jws: string, root: RootJwk, issuer: string): Promise<KeySet> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jws, await importJWK({ kty: root.kty, crv: root.crv, x: root.x }, SIGNING_ALG), {
      algorithms: [SIGNING_ALG],
      typ: KEY_SET_TYP,
      issuer,
    }));
  } catch {
    throw new TrustError('The key set is not signed by the trusted root key.');
  }
  const parsed = keySetClaims.safeParse(payload);
  if (!parsed.success) throw new TrustError('The key set does not say which keys are in service.');
  const claims = parsed.data;
  const revoked = new Set(claims.revoked);
  const keys = parseJwks({ keys: claims.keys }).keys.filter((k) => !revoked.has(k.kid));
  return { ver: claims.ver, iat: claims.iat, keys, revoked: claims.revoked, jws };
}

/**
 * The key set the client trusts: in memory, backed by the disk cache (verified against the root
 * again when loaded, so an edited file is no key set), refreshed from the gateway when an
 * entitlement names a key it does not know, or when an answer says the gateway's is newer.
 */
export interface KeyStore {
  /** The trusted key set: memory, then disk, then (if `network`) the gateway. Null when none can be had or it is known stale. */
  current(network: boolean): Promise<KeySet | null>;
  /** One fetch from the gateway; concurrent callers share it. Null when no current key set could be had. */
  refresh(): Promise<KeySet | null>;
  /** Why the last refresh was refused, when the gateway answered with something the root does not vouch for. */
  readonly problem: string | null;
  /**
   * An answer said the gateway's key set is version `ver`. A newer one than held is fetched at once;
   * until it is, the held one is not trusted (the mark is kept on disk, so a restart does not lift it).
   */
  observe(ver: number): Promise<void>;
}

/** The key set as the client keeps it: the JWS as the gateway signed it, and the root's JWK once learnt. */
export interface KeySetRecord {
  keySet: string;
  root?: RootJwk;
  /** A version the gateway announced that this key set is older than: not trusted until refreshed. */
  stale?: number;
}

export interface KeyStoreDeps {
  trust: TrustRoot;
  issuer: string;
  /** The gateway's key set, a compact JWS. */
  fetchKeySet: () => Promise<string>;
  /** The gateway's root JWK; believed only if its thumbprint is the trusted one. */
  fetchRoot: () => Promise<unknown>;
  load: () => Promise<KeySetRecord | null>;
  save: (record: KeySetRecord) => Promise<void>;
  /** Told when a key set is believed: its `iat` is an instant the gateway had seen. */
  onVerified?: (set: KeySet) => void;
}

export function createKeyStore(deps: KeyStoreDeps): KeyStore {
  const trust = parseTrust(deps.trust);
  // Swallowed here, thrown where the store is used: an unhandled rejection must not kill the process.
  trust.catch(() => {});
  let root: RootJwk | null = null;
  let held: KeySet | null = null;
  let stale = 0;
  let loaded: Promise<void> | null = null;
  let inFlight: Promise<KeySet | null> | null = null;
  let problem: string | null = null;

  const trusted = () => (held && stale <= held.ver ? held : null);
  const record = (): KeySetRecord | null => held && { keySet: held.jws, ...(root && { root }), ...(stale > held.ver && { stale }) };

  function believe(set: KeySet): void {
    held = set;
    deps.onVerified?.(set);
  }

  async function load(): Promise<void> {
    const { thumbprint, root: given } = await trust;
    const saved = await deps.load().catch(() => null);
    root = given ?? (saved?.root ? await rootMatching(saved.root, thumbprint) : null);
    if (!saved || !root || typeof saved.keySet !== 'string') return;
    try {
      believe(await verifyKeySet(saved.keySet, root, deps.issuer));
    } catch {
      // A damaged or edited file is as good as none: the network will tell.
      return;
    }
    if (typeof saved.stale === 'number') stale = saved.stale;
  }

  async function rootOnline(): Promise<RootJwk> {
    if (root) return root;
    const { thumbprint } = await trust;
    const fetched = await rootMatching(await deps.fetchRoot(), thumbprint);
    if (!fetched) throw new TrustError(`The gateway's root key is not the trusted one (${thumbprint}).`);
    root = fetched;
    return root;
  }

  function refresh(): Promise<KeySet | null> {
    inFlight ??= (async () => {
      try {
        loaded ??= load();
        await loaded;
        const set = await verifyKeySet(await deps.fetchKeySet(), await rootOnline(), deps.issuer);
        // Never back to an older key set: it could still list a key revoked since.
        if (!held || set.ver > held.ver) believe(set);
        if (held && stale <= held.ver) stale = 0;
        problem = null;
        const kept = record();
        if (kept) await deps.save(kept);
        return trusted();
      } catch (err) {
        if (err instanceof TrustError) problem = err.message;
        return null;
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  return {
    async current(network) {
      loaded ??= load();
      await loaded;
      return trusted() ?? (network ? refresh() : null);
    },
    refresh,
    get problem() {
      return problem;
    },
    async observe(ver) {
      loaded ??= load();
      await loaded.catch(() => {});
      // Nothing held yet: the key set is fetched when it is first needed.
      if (!held || ver <= held.ver) return;
      if (ver > stale) {
        stale = ver;
        const kept = record();
        if (kept) await deps.save(kept).catch(() => {});
      }
      await refresh();
    },
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

      // Memory or disk first; the network only for a key not seen yet, and then exactly once. A
      // revoked key is refused at once: no newer key set brings it back.
      let jwks = await keys.current(false);
      const revoked = () => jwks?.revoked.includes(kid) === true;
      if (!revoked() && !jwks?.keys.some((k) => k.kid === kid) && expect.allowRefresh) jwks = await keys.refresh();
      if (revoked()) throw new EntitlementRejected('revoked-key', `The entitlement is signed by a revoked key (${kid}).`);
      if (!jwks?.keys.some((k) => k.kid === kid)) {
        throw new EntitlementRejected('unknown-key', `The entitlement is signed by a key the trust root does not vouch for (${kid}).`);
      }

      let payload: unknown;
      try {
        const result = await jwtVerify(jws, createLocalJWKSet({ keys: jwks.keys } as JSONWebKeySet), {
          algorithms: [SIGNING_ALG],
          typ: ENTITLEMENT_TYP,
          issuer: options.issuer,
          audience: ENTITLEMENT_AUDIENCE,
          currentDate: options.now(),
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
