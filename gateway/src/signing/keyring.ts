import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  ALLOWANCE_AUDIENCE,
  ALLOWANCE_TYP,
  type AllowanceClaims,
  CHECKPOINT_TYP,
  ENTITLEMENT_AUDIENCE,
  ENTITLEMENT_TYP,
  type EntitlementClaims,
  ID_TOKEN_AUDIENCE,
  ID_TOKEN_TYP,
  type IdTokenClaims,
  KEY_SET_TYP,
  type KeySetClaims,
  type LedgerCheckpointClaims,
  newEd25519Key,
  type PublicJwk,
  SIGNING_ALG,
} from '@flexgate/shared';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import { replaceText, unsentInvitations } from '../db/repos/outbox';
import type { DB } from '../db/schema';
import { inTransaction, serialize, type Tx } from '../db/tx';
import { DomainError } from '../domain/errors';
import { mapToken, outboxTokenPlace } from '../domain/mails';
import { addMs, DAY_MS, HOUR_MS } from '../domain/time';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import { Revocations } from '../lib/revocations';
import { b64url, signCompact, signParts, signPartsHedged } from './jws';
import { generateRootKey, type RootKey, rootKeyFromJwk } from './root';
import { Sealer } from './seal';
import { type IdTokenKey, TokenRejected, verifyIdToken } from './verify-id-token';

/** The encoded header of the entitlements a key signs: the same bytes every time, so a revoked key's are known. */
const entitlementHead = (kid: string) => b64url(JSON.stringify({ alg: SIGNING_ALG, kid, typ: ENTITLEMENT_TYP }));

/** A signing key as the operator sees it: `dropped` once every token it signed has expired. */
export interface SigningKeyInfo {
  kid: string;
  status: 'active' | 'retired' | 'dropped' | 'revoked';
  createdAt: string;
  retiredAt: string | null;
  revokedAt: string | null;
}

export interface Revocation {
  kid: string;
  revokedAt: string;
  /** The key that signs now (a new one when the revoked key was the active one). */
  activeKid: string;
  keySetVersion: number;
}

interface LoadedKey {
  kid: string;
  createdAt: string;
  retiredAt: string | null;
  publicJwk: JWK;
  privateKey: KeyObject;
  entitlementHead: string;
}

/** Everything `refresh` loads, swapped in at once so that no request sees half of it. */
interface Loaded {
  keys: LoadedKey[];
  revoked: string[];
  version: number;
  keySet: string;
  shape: string;
}

export interface KeyRingOptions {
  issuer: string;
  idTokenTtlSeconds: number;
  /** The operator's root key (FLEXGATE_ROOT_KEY_FILE); absent: the one in the database, made on first start. */
  rootKey?: RootKey | undefined;
  /** Seals the private JWKs in the database (FLEXGATE_KEK); absent: they are stored in clear. */
  sealer?: Sealer | undefined;
}

/** Where a private JWK is stored: the associated data of its sealed value, so it opens on that row only. */
const signingKeyPlace = (kid: string) => `signing_keys.private_jwk of ${kid}`;
const rootKeyPlace = (kid: string) => `root_key.private_jwk of ${kid}`;

/** How many entitlements signed again (after a revocation) are remembered. */
const RESIGNED_MAX = 10_000;

/**
 * All signing in one place (R17). Ed25519 keys live in the database so that every gateway
 * instance signs with the same key and publishes the same JWKS; a restart keeps them. The newest
 * unretired key signs; retired keys stay published until every token they signed has expired.
 * The root key signs the key set (the keys in service and the kids revoked), which is what
 * clients trust; a revoked key leaves the JWKS and the key set at once.
 */
export class KeyRing {
  private keys: LoadedKey[] = [];
  private revoked: string[] = [];
  /** The entitlement headers of the revoked keys: an answer carrying one is signed again. */
  private revokedHeads = new Set<string>();
  private resigned = new Map<string, string>();
  private root: RootKey | null = null;
  private version = 0;
  private versionText = '0';
  private keySet = '';
  /** What the key set was signed over: it is signed again only when that changes. */
  private signedShape = '';
  private refreshing: Promise<void> = Promise.resolve();
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
  /** Seals secrets at rest under FLEXGATE_KEK: the signing keys, and the tokens of unsent invitation e-mails. */
  readonly sealer: Sealer;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly clock: Clock,
    private readonly options: KeyRingOptions,
  ) {
    this.revocations = new Revocations(options.idTokenTtlSeconds * 1000);
    this.sealer = options.sealer ?? new Sealer(undefined);
  }

  /** How long a retired key must stay published: the longest-lived token it may have signed. */
  private get retention(): number {
    return Math.max(DAY_MS, this.options.idTokenTtlSeconds * 1000) + HOUR_MS;
  }

  async init(): Promise<void> {
    const fresh = await this.generate();
    const freshRoot = this.options.rootKey ? null : await generateRootKey();
    const storedRoot = await inTransaction(this.db, async (trx) => {
      // Instances starting together on a fresh database would each see no key and insert their
      // own (no unique key can stop that: kids differ); each would then publish a JWKS without
      // the others' keys. One at a time, the later ones find the first one's key (and root).
      await serialize(trx, 'signing-keys');
      const existing = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).executeTakeFirst();
      if (!existing) {
        await trx.insertInto('signing_keys').values(fresh).execute();
        await bumpVersion(trx, this.clock.now());
      }
      await this.reseal(trx);
      if (!freshRoot) return null;
      const row = await trx.selectFrom('root_key').select(['kid', 'private_jwk']).where('id', '=', 1).executeTakeFirst();
      if (row) return this.sealer.open(row.private_jwk, rootKeyPlace(row.kid));
      const privateJwk = JSON.stringify(freshRoot.privateKey.export({ format: 'jwk' }));
      await trx
        .insertInto('root_key')
        .values({
          id: 1,
          kid: freshRoot.kid,
          public_jwk: JSON.stringify(freshRoot.publicJwk),
          private_jwk: this.sealer.seal(privateJwk, rootKeyPlace(freshRoot.kid)),
          created_at: this.clock.now().toISOString(),
        })
        .execute();
      return privateJwk;
    });
    this.root = this.options.rootKey ?? (storedRoot ? await rootKeyFromJwk(storedRoot) : null);
    await this.refresh();
  }

  /**
   * Seals under FLEXGATE_KEK every private JWK stored in clear (a database from before sealing, or
   * from a start without a KEK) or under FLEXGATE_KEK_PREVIOUS (a KEK rotation). Every row is
   * opened first: a key this gateway cannot open stops the start rather than a later signature.
   * The tokens of invitation e-mails still waiting in the outbox go the same way.
   */
  private async reseal(trx: Tx): Promise<void> {
    const keys = await trx.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
    const roots = await trx.selectFrom('root_key').select(['kid', 'private_jwk']).execute();
    for (const k of keys) {
      const place = signingKeyPlace(k.kid);
      const clear = this.sealer.open(k.private_jwk, place);
      if (!this.sealer.stale(k.private_jwk)) continue;
      await trx
        .updateTable('signing_keys')
        .set({ private_jwk: this.sealer.seal(clear, place) })
        .where('kid', '=', k.kid)
        .execute();
    }
    for (const r of roots) {
      const place = rootKeyPlace(r.kid);
      const clear = this.sealer.open(r.private_jwk, place);
      if (!this.sealer.stale(r.private_jwk)) continue;
      await trx
        .updateTable('root_key')
        .set({ private_jwk: this.sealer.seal(clear, place) })
        .where('kid', '=', r.kid)
        .execute();
    }
    for (const m of await unsentInvitations(trx)) {
      const place = outboxTokenPlace(m.to);
      const text = mapToken(m.text, (t) => (this.sealer.stale(t) ? this.sealer.seal(this.sealer.open(t, place), place) : t));
      if (text !== m.text) await replaceText(trx, m.id, text);
    }
  }

  private async generate() {
    const privateKey = newEd25519Key();
    const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk);
    return {
      kid,
      alg: SIGNING_ALG,
      public_jwk: JSON.stringify({ ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' }),
      private_jwk: this.sealer.seal(JSON.stringify(privateKey.export({ format: 'jwk' })), signingKeyPlace(kid)),
      created_at: this.clock.now().toISOString(),
      retired_at: null,
      drop_after: null,
      revoked_at: null,
    };
  }

  /**
   * Reloads keys from the database (another instance may have rotated or revoked) and signs the
   * key set again if it changed. One reload at a time, so a slower earlier one never overwrites
   * what a later one loaded.
   */
  refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.load());
    this.refreshing = next.catch(() => {});
    return next;
  }

  /** Reloads only when the key set's version moved: one small read, cheap enough to run every few seconds. */
  async follow(): Promise<void> {
    const row = await this.db.selectFrom('key_set').select('version').where('id', '=', 1).executeTakeFirst();
    if (row && row.version !== this.version) await this.refresh();
  }

  private async load(): Promise<void> {
    const now = this.clock.now();
    // Revoked keys stay listed as revoked; the others until every token they signed has expired.
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('drop_after', 'is', null), eb('drop_after', '>', now.toISOString()), eb('revoked_at', 'is not', null)]))
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute();
    const set = await this.db.selectFrom('key_set').select('version').where('id', '=', 1).executeTakeFirstOrThrow();
    const keys = rows
      .filter((r) => r.revoked_at === null)
      .map((r): LoadedKey => {
        const privateJwk = JSON.parse(this.sealer.open(r.private_jwk, signingKeyPlace(r.kid))) as JsonWebKey;
        return {
          kid: r.kid,
          createdAt: r.created_at,
          retiredAt: r.retired_at,
          publicJwk: JSON.parse(r.public_jwk) as JWK,
          privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }),
          entitlementHead: entitlementHead(r.kid),
        };
      });
    const revoked = rows
      .filter((r) => r.revoked_at !== null)
      .map((r) => r.kid)
      .sort();
    this.swap(await this.signKeySet(keys, revoked, set.version, now));
  }

  private async signKeySet(keys: LoadedKey[], revoked: string[], version: number, now: Date): Promise<Loaded> {
    const shape = JSON.stringify([version, keys.map((k) => k.kid), revoked]);
    if (shape === this.signedShape) return { keys, revoked, version, keySet: this.keySet, shape };
    const root = this.root;
    if (!root) throw new Error('no root key loaded: KeyRing.init() was not called');
    const claims: KeySetClaims = {
      iss: this.options.issuer,
      ver: version,
      iat: Math.floor(now.getTime() / 1000),
      keys: keys.map((k) => k.publicJwk as PublicJwk),
      revoked,
    };
    const keySet = await signCompact(root.privateKey, { alg: SIGNING_ALG, kid: root.kid, typ: KEY_SET_TYP }, claims);
    return { keys, revoked, version, keySet, shape };
  }

  private swap(loaded: Loaded): void {
    if (loaded.revoked.join() !== this.revoked.join()) {
      // A token a revoked key signed must not pass as one verified before.
      this.verified.clear();
      this.resigned.clear();
      this.revokedHeads = new Set(loaded.revoked.map(entitlementHead));
    }
    this.keys = loaded.keys;
    this.revoked = loaded.revoked;
    this.version = loaded.version;
    this.versionText = String(loaded.version);
    this.keySet = loaded.keySet;
    this.signedShape = loaded.shape;
    this.jwksCache = { keys: this.keys.map((k) => k.publicJwk) };
    this.idTokenKeys = new Map(
      this.keys.map((k) => [
        k.kid,
        {
          publicKey: createPublicKey({ key: k.publicJwk as JsonWebKey, format: 'jwk' }),
          // Signing again stands in for verifying only with the private half of the published key.
          ...(halvesMatch(k) && { privateKey: k.privateKey }),
        },
      ]),
    );
    this.lastRefresh = Date.now();
  }

  /** Retires the active key; it keeps verifying until every token it signed has expired. */
  private async retireActive(trx: Tx, now: Date): Promise<void> {
    await trx
      .updateTable('signing_keys')
      .set({ retired_at: now.toISOString(), drop_after: addMs(now, this.retention).toISOString() })
      .where('retired_at', 'is', null)
      .execute();
  }

  /**
   * Makes a new signing key; the old one keeps verifying until its tokens have expired.
   * `record` runs in the rotation's transaction (the audit trail), with the new kid.
   */
  async rotate(record?: (trx: Tx, kid: string) => Promise<void>): Promise<string> {
    const now = this.clock.now();
    const fresh = await this.generate();
    await inTransaction(this.db, async (trx) => {
      // Two rotations at once would both retire the old key and leave two active new ones.
      await serialize(trx, 'signing-keys');
      await this.retireActive(trx, now);
      await trx.insertInto('signing_keys').values(fresh).execute();
      await bumpVersion(trx, now);
      await record?.(trx, fresh.kid);
    });
    await this.refresh();
    return fresh.kid;
  }

  /**
   * Withdraws a signing key at once (a leaked one): it leaves the JWKS and the key set, and the
   * key set lists its kid as revoked. The active key is replaced first, in the same transaction,
   * so that something always signs. Revoking a revoked key changes nothing. Null: no such key.
   */
  async revoke(kid: string, record?: (trx: Tx, revokedAt: string) => Promise<void>): Promise<Revocation | null> {
    const now = this.clock.now();
    const fresh = await this.generate();
    const revokedAt = await inTransaction(this.db, async (trx) => {
      await serialize(trx, 'signing-keys');
      const row = await trx.selectFrom('signing_keys').select(['retired_at', 'revoked_at']).where('kid', '=', kid).executeTakeFirst();
      if (!row) return null;
      if (row.revoked_at !== null) return row.revoked_at;
      if (row.retired_at === null) {
        await this.retireActive(trx, now);
        await trx.insertInto('signing_keys').values(fresh).execute();
      }
      await trx.updateTable('signing_keys').set({ revoked_at: now.toISOString() }).where('kid', '=', kid).execute();
      await bumpVersion(trx, now);
      await record?.(trx, now.toISOString());
      return now.toISOString();
    });
    if (revokedAt === null) return null;
    await this.refresh();
    return { kid, revokedAt, activeKid: this.activeKid, keySetVersion: this.version };
  }

  /** Every signing key ever made, newest first, with what became of it. */
  async signingKeys(): Promise<SigningKeyInfo[]> {
    const now = this.clock.now().toISOString();
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['kid', 'created_at', 'retired_at', 'drop_after', 'revoked_at'])
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute();
    return rows.map((r) => ({
      kid: r.kid,
      status:
        r.revoked_at !== null
          ? 'revoked'
          : r.retired_at === null
            ? 'active'
            : r.drop_after !== null && r.drop_after <= now
              ? 'dropped'
              : 'retired',
      createdAt: r.created_at,
      retiredAt: r.retired_at,
      revokedAt: r.revoked_at,
    }));
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

  /** The key set: a compact JWS by the root key over the keys in service and the kids revoked. */
  get keySetJws(): string {
    return this.keySet;
  }

  /** Its version, as the `Flexgate-Key-Set` header of every answer carries it. */
  get keySetVersion(): string {
    return this.versionText;
  }

  /** The root's public JWK; its kid is its RFC 7638 thumbprint. */
  get rootJwk(): RootKey['publicJwk'] {
    if (!this.root) throw new Error('no root key loaded: KeyRing.init() was not called');
    return this.root.publicJwk;
  }

  /**
   * The answer itself, unless a revoked key signed its entitlement (a session opened before the
   * revocation answers the entitlement signed then): that one is signed again, same claims, by the
   * active key. Costs nothing while no key is revoked.
   */
  live<T extends { entitlement: string }>(answer: T): T | Promise<T> {
    if (this.revokedHeads.size === 0) return answer;
    const jws = answer.entitlement;
    if (!this.revokedHeads.has(jws.slice(0, jws.indexOf('.')))) return answer;
    return this.resign(jws).then((entitlement) => ({ ...answer, entitlement }));
  }

  private async resign(jws: string): Promise<string> {
    const known = this.resigned.get(jws);
    if (known !== undefined) return known;
    const key = this.active();
    const again = await signParts(key.privateKey, key.entitlementHead, jws.slice(jws.indexOf('.') + 1, jws.lastIndexOf('.')));
    if (this.resigned.size >= RESIGNED_MAX) this.resigned.clear();
    this.resigned.set(jws, again);
    return again;
  }

  /**
   * Signs an entitlement, hedged with a nonce made ahead on another thread (signing/nonces.ts): the
   * output is a plain compact JWS (RFC 7515, EdDSA per RFC 8037) that jose and any JOSE library
   * verify; the tests verify it with jose. A cold launch signs before its transaction, so the
   * database is never held while signing.
   */
  signEntitlement(claims: Omit<EntitlementClaims, 'iss' | 'aud' | 'jti'>): Promise<string> {
    const key = this.active();
    const c = claims;
    // Field by field: on Node 20 a property written after a spread makes the literal tens of times slower (BENCHMARKS.md).
    const payload: EntitlementClaims = {
      product: c.product,
      productName: c.productName,
      source: c.source,
      team: c.team,
      teamName: c.teamName,
      sid: c.sid,
      iss: this.options.issuer,
      aud: ENTITLEMENT_AUDIENCE,
      sub: c.sub,
      iat: c.iat,
      exp: c.exp,
      jti: newId('ent'),
    };
    return Promise.resolve(signPartsHedged(key.privateKey, key.entitlementHead, b64url(JSON.stringify(payload))));
  }

  /** An offline allowance: its own `typ` and audience, so it never passes as an entitlement or an ID token. */
  signAllowance(claims: Omit<AllowanceClaims, 'iss' | 'aud'>): Promise<string> {
    const key = this.active();
    const { sub, aid, iat, exp, ...rest } = claims;
    const payload = { iss: this.options.issuer, aud: ALLOWANCE_AUDIENCE, sub, aid, iat, exp, ...rest };
    return signCompact(key.privateKey, { alg: SIGNING_ALG, kid: key.kid, typ: ALLOWANCE_TYP }, payload);
  }

  /**
   * A ledger checkpoint (docs/ledger.md): signed by the active key like an entitlement, so the JWKS
   * verifies it, with its own `typ` so that it never passes for anything else.
   */
  signCheckpoint(claims: Omit<LedgerCheckpointClaims, 'iss' | 'iat'>): Promise<string> {
    const key = this.active();
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    return signCompact(
      key.privateKey,
      { alg: SIGNING_ALG, kid: key.kid, typ: CHECKPOINT_TYP },
      { iss: this.options.issuer, iat, ...claims },
    );
  }

  /**
   * An access (ID) token: an EdDSA JWT of a few minutes, which the gateway and the client verify by
   * its signature; `fam` names the sign-in it belongs to, which signing out revokes, and `rev` the
   * last revocation of the user that sign-in came after (lib/revocations.ts).
   */
  async signIdToken(
    autodeskId: string,
    signIn?: { family: string; after: number | null },
    issuedAt?: Date,
  ): Promise<{ token: string; expiresAt: Date }> {
    const key = this.active();
    // The instant its refresh token was stored, when there is one.
    const now = issuedAt ?? this.clock.now();
    const expiresAt = addMs(now, this.options.idTokenTtlSeconds * 1000);
    const header = { alg: SIGNING_ALG, kid: key.kid, typ: ID_TOKEN_TYP };
    const claims: Record<string, unknown> = {
      iss: this.options.issuer,
      aud: ID_TOKEN_AUDIENCE,
      sub: autodeskId,
      iat: Math.floor(now.getTime() / 1000),
      exp: Math.floor(expiresAt.getTime() / 1000),
      jti: newId('idt'),
      ...(signIn !== undefined && { fam: signIn.family }),
      ...(signIn?.after != null && { rev: signIn.after }),
    };
    const token = await signCompact(key.privateKey, header, claims);
    // Known at once here: a client launches right after it signs in or refreshes. Not if its key
    // was revoked while it was signed: the cache was cleared for that revocation.
    if (this.idTokenKeys.has(key.kid)) this.remember(token, claims as unknown as IdTokenClaims);
    return { token, expiresAt };
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
      this.remember(token, claims);
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

  private remember(token: string, claims: IdTokenClaims): void {
    if (this.verified.size >= KeyRing.VERIFIED_MAX) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(signaturePart(token), { token, claims });
  }

  private verify(token: string): Promise<IdTokenClaims> {
    if (this.idTokenKeys.size === 0) throw new Error('KeyRing not initialised');
    return verifyIdToken(token, this.idTokenKeys, this.options.issuer, Math.floor(this.clock.now().getTime() / 1000));
  }
}

function halvesMatch(k: LoadedKey): boolean {
  return (createPublicKey(k.privateKey).export({ format: 'jwk' }) as JWK).x === k.publicJwk.x;
}

/** 2026-01-01: key set versions count seconds from here at least (`bumpVersion`), which fits an int4 column until 2094. */
const VERSION_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * Every change to the key set (a key added or revoked) moves its version, in the change's
 * transaction (each caller holds the 'signing-keys' lock). It moves at least to the seconds since
 * 2026 by the gateway's clock: clients never take a key set whose version is not above the one they
 * hold, and a database restored from a backup would otherwise count again from an older version,
 * so that its next rotation read as old news to every client that saw a later set (README, "Backing up").
 */
async function bumpVersion(trx: Tx, now: Date): Promise<void> {
  await trx
    .updateTable('key_set')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .execute();
  const floor = Math.floor((now.getTime() - VERSION_EPOCH_MS) / 1000);
  await trx.updateTable('key_set').set({ version: floor }).where('id', '=', 1).where('version', '<', floor).execute();
}

/** What follows a compact JWS's last dot: its signature, which tells tokens apart. */
function signaturePart(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}
