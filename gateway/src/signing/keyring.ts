import { createPrivateKey, createPublicKey, sign as cryptoSign, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  ALLOWANCE_AUDIENCE,
  ALLOWANCE_TYP,
  type AllowanceClaims,
  ENTITLEMENT_AUDIENCE,
  ENTITLEMENT_TYP,
  type EntitlementClaims,
  ID_TOKEN_AUDIENCE,
  ID_TOKEN_TYP,
  type IdTokenClaims,
  SIGNING_ALG,
} from '@flexgate/shared';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema';
import { inTransaction, serialize } from '../db/tx';
import { DomainError } from '../domain/errors';
import { addMs, DAY_MS, HOUR_MS } from '../domain/time';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import { Revocations } from '../lib/revocations';
import { type IdTokenKey, TokenRejected, verifyIdToken } from './verify-id-token';

const b64url = (text: string) => Buffer.from(text).toString('base64url');

/** A compact JWS (RFC 7515), EdDSA, signed on libuv's thread pool: what jose and any JOSE library verify. */
function signCompact(privateKey: KeyObject, header: object, payload: object): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return new Promise((resolve, reject) => {
    cryptoSign(null, Buffer.from(input), privateKey, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

interface LoadedKey {
  kid: string;
  createdAt: string;
  retiredAt: string | null;
  publicJwk: JWK;
  privateKey: KeyObject;
}

export interface KeyRingOptions {
  issuer: string;
  idTokenTtlSeconds: number;
}

/**
 * All signing in one place (R17). Ed25519 keys live in the database so that every gateway
 * instance signs with the same key and publishes the same JWKS; a restart keeps them. The newest
 * unretired key signs; retired keys stay published until every token they signed has expired.
 */
export class KeyRing {
  private keys: LoadedKey[] = [];
  private jwksCache: { keys: JWK[] } = { keys: [] };
  /** Every published key by kid, ready to verify ID tokens with (retired ones too, until dropped). */
  private idTokenKeys = new Map<string, IdTokenKey>();
  private lastRefresh = 0;
  /**
   * Verified ID tokens, until they expire: a Map lookup is cheaper than verifying again. Safe
   * because an ID token is immutable and carries its own expiry; retiring its key does not revoke
   * it either. Bounded: the oldest entries go first. Keyed by the signature part, the whole token
   * compared on a hit: the bearer is a new string every launch, and hashing it whole was most of
   * the lookup.
   */
  private readonly verified = new Map<string, { token: string; claims: IdTokenClaims }>();
  private static readonly VERIFIED_MAX = 50_000;

  /** Signed-out sign-ins and users whose sessions were ended: refused even from the cache of verified tokens. */
  readonly revocations: Revocations;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly clock: Clock,
    private readonly options: KeyRingOptions,
  ) {
    this.revocations = new Revocations(options.idTokenTtlSeconds * 1000);
  }

  /** How long a retired key must stay published: the longest-lived token it may have signed. */
  private get retention(): number {
    return Math.max(DAY_MS, this.options.idTokenTtlSeconds * 1000) + HOUR_MS;
  }

  async init(): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      // Instances starting together on a fresh database would each see no key and insert their
      // own (no unique key can stop that: kids differ); each would then publish a JWKS without
      // the others' keys. One at a time, the later ones find the first one's key.
      await serialize(trx, 'signing-keys');
      const existing = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).executeTakeFirst();
      if (!existing)
        await trx
          .insertInto('signing_keys')
          .values(await this.generate())
          .execute();
    });
    await this.refresh();
  }

  private async generate() {
    const { privateKey } = generateKeyPairSync('ed25519');
    const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk);
    return {
      kid,
      alg: SIGNING_ALG,
      public_jwk: JSON.stringify({ ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' }),
      private_jwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
      created_at: this.clock.now().toISOString(),
      retired_at: null,
      drop_after: null,
    };
  }

  /** Reloads keys from the database: another instance may have rotated. */
  async refresh(): Promise<void> {
    const now = this.clock.now().toISOString();
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('drop_after', 'is', null), eb('drop_after', '>', now)]))
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute();
    this.keys = rows.map((r) => {
      const privateJwk = JSON.parse(r.private_jwk) as JsonWebKey;
      return {
        kid: r.kid,
        createdAt: r.created_at,
        retiredAt: r.retired_at,
        publicJwk: JSON.parse(r.public_jwk) as JWK,
        privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }),
      };
    });
    this.jwksCache = { keys: this.keys.map((k) => k.publicJwk) };
    this.idTokenKeys = new Map(
      this.keys.map((k) => [k.kid, { publicKey: createPublicKey({ key: k.publicJwk as JsonWebKey, format: 'jwk' }) }]),
    );
    this.lastRefresh = Date.now();
  }

  /** Makes a new signing key; the old one keeps verifying until its tokens have expired. */
  async rotate(): Promise<string> {
    const now = this.clock.now();
    const fresh = await this.generate();
    await inTransaction(this.db, async (trx) => {
      // Two rotations at once would both retire the old key and leave two active new ones.
      await serialize(trx, 'signing-keys');
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: now.toISOString(), drop_after: addMs(now, this.retention).toISOString() })
        .where('retired_at', 'is', null)
        .execute();
      await trx.insertInto('signing_keys').values(fresh).execute();
    });
    await this.refresh();
    return fresh.kid;
  }

  private active(): LoadedKey {
    const key = this.keys.find((k) => k.retiredAt === null) ?? this.keys[0];
    if (!key) throw new Error('no signing key loaded: KeyRing.init() was not called');
    return key;
  }

  get activeKid(): string {
    return this.active().kid;
  }

  jwks(): { keys: JWK[] } {
    return this.jwksCache;
  }

  /**
   * Signs an entitlement with node:crypto on libuv's thread pool: the Ed25519 signature runs on
   * another core while this thread serves other requests (in line it was a large share of a cold
   * launch's main thread, and jose's WebCrypto path costs more: BENCHMARKS.md). The output is a
   * plain compact JWS (RFC 7515, EdDSA per RFC 8037) that jose and any JOSE library verify; the
   * tests verify it with jose. A cold launch signs before its transaction, so the database is
   * never held while signing.
   */
  signEntitlement(claims: Omit<EntitlementClaims, 'iss' | 'aud' | 'jti'>): Promise<string> {
    const key = this.active();
    const header = { alg: SIGNING_ALG, kid: key.kid, typ: ENTITLEMENT_TYP };
    const { sub, iat, exp, ...rest } = claims;
    const payload = { ...rest, iss: this.options.issuer, aud: ENTITLEMENT_AUDIENCE, sub, iat, exp, jti: newId('ent') };
    return signCompact(key.privateKey, header, payload);
  }

  /** An offline allowance: its own `typ` and audience, so it never passes as an entitlement or an ID token. */
  signAllowance(claims: Omit<AllowanceClaims, 'iss' | 'aud'>): Promise<string> {
    const key = this.active();
    const { sub, aid, iat, exp, ...rest } = claims;
    const payload = { iss: this.options.issuer, aud: ALLOWANCE_AUDIENCE, sub, aid, iat, exp, ...rest };
    return signCompact(key.privateKey, { alg: SIGNING_ALG, kid: key.kid, typ: ALLOWANCE_TYP }, payload);
  }

  /**
   * An access (ID) token: an EdDSA JWT of a few minutes, which the gateway and the client verify by
   * its signature; `fam` names the sign-in it belongs to, which signing out revokes.
   */
  async signIdToken(autodeskId: string, family?: string): Promise<{ token: string; expiresAt: Date }> {
    const key = this.active();
    const now = this.clock.now();
    const expiresAt = addMs(now, this.options.idTokenTtlSeconds * 1000);
    const header = { alg: SIGNING_ALG, kid: key.kid, typ: ID_TOKEN_TYP };
    const claims: Record<string, unknown> = {
      iss: this.options.issuer,
      aud: ID_TOKEN_AUDIENCE,
      sub: autodeskId,
      iat: Math.floor(now.getTime() / 1000),
      exp: Math.floor(expiresAt.getTime() / 1000),
      jti: newId('idt'),
      ...(family !== undefined && { fam: family }),
    };
    return { token: await signCompact(key.privateKey, header, claims), expiresAt };
  }

  /**
   * The claims of an ID token this instance already verified and that has not expired, without
   * waiting on anything (the launch lane answers a warm launch in one go with it); undefined:
   * verify it (`verifyIdToken`).
   */
  knownIdToken(token: string): IdTokenClaims | undefined {
    const signature = signaturePart(token);
    const known = this.verified.get(signature);
    if (known === undefined || known.token !== token) return undefined;
    if (known.claims.exp * 1000 > this.clock.now().getTime() && !this.revocations.isRevoked(known.claims)) return known.claims;
    this.verified.delete(signature);
    return undefined;
  }

  /** Verifies a user's ID token; only our keys, our issuer and the ID-token audience pass. */
  async verifyIdToken(token: string): Promise<IdTokenClaims> {
    const known = this.knownIdToken(token);
    if (known) return known;
    try {
      const claims = await this.verify(token);
      if (this.revocations.isRevoked(claims)) throw new TokenRejected('revoked');
      if (this.verified.size >= KeyRing.VERIFIED_MAX) {
        const oldest = this.verified.keys().next();
        if (!oldest.done) this.verified.delete(oldest.value);
      }
      this.verified.set(signaturePart(token), { token, claims });
      return claims;
    } catch (error) {
      // A key rotated on another instance: reload once (at most every 5 s), then decide.
      if (error instanceof TokenRejected && error.reason === 'no-key' && Date.now() - this.lastRefresh > 5000) {
        await this.refresh();
        try {
          const claims = await this.verify(token);
          if (!this.revocations.isRevoked(claims)) return claims;
        } catch {
          /* fall through to the refusal below */
        }
      }
      throw new DomainError(
        'unauthorized',
        error instanceof TokenRejected && error.reason === 'revoked'
          ? 'This sign-in was ended (signed out or revoked); sign in again.'
          : 'The bearer token is not a valid, unexpired flexgate access token; refresh it or sign in again.',
      );
    }
  }

  private verify(token: string): Promise<IdTokenClaims> {
    if (this.idTokenKeys.size === 0) throw new Error('KeyRing not initialised');
    return verifyIdToken(token, this.idTokenKeys, this.options.issuer, Math.floor(this.clock.now().getTime() / 1000));
  }
}

/** What follows a compact JWS's last dot: its signature, which tells tokens apart. */
function signaturePart(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}
