import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  type AllowanceClaims,
  FREE_CLOSE_MS,
  isProblem,
  KEY_SET_PATH,
  KEY_SET_VERSION_HEADER,
  type LaunchPreview,
  LEASE_MS,
  type MyUsageResponse,
  type Product,
  ROOT_KEY_PATH,
  type SessionEndResponse,
} from '@flexgate/shared';
import { z } from 'zod';
import {
  AllowanceRejected,
  allowanceBeforeSettled,
  allowanceKeysOf,
  allowanceLists,
  allowanceStale,
  createAllowanceStore,
  verifyAllowance,
} from './allowance';
import { type CachedEntitlement, createDiskStore, createEntitlementCache, type VerifiedCacheEntry } from './cache';
import { createCopies, type RunningCopy } from './copies';
import { createClockFloor, issuedAt } from './floor';
import { createHttp, GatewayUnreachableError, type Http, type HttpOptions, type HttpResponse } from './http';
import {
  createProvisionalStore,
  DEFAULT_PROVISIONAL,
  decideProvisional,
  type ProvisionalPolicy,
  type ProvisionalRecord,
  slotOf,
} from './provisional';
import {
  FlexgateError,
  type LaunchOptions,
  type LaunchResult,
  notSignedIn,
  type ProvisionalGrant,
  type Refusal,
  type RefusalCode,
  type VerifiedGrant,
} from './types';
import { checkTrust, createKeyStore, createVerifier, EntitlementRejected, type KeySetRecord, type TrustRoot } from './verify';

export interface ClientOptions {
  gatewayUrl: string;
  /**
   * The gateway's root public key, as a product embeds it: the JWK the gateway publishes at
   * `/.well-known/flexgate-root.json`, or its RFC 7638 thumbprint. Only signing keys listed in a
   * key set this root signed are trusted; nothing on disk or on the network can add one.
   */
  trust: TrustRoot;
  /** Where the sign-in, the key set and the entitlements are kept (created 0700). */
  cacheDir: string;
  /** The `iss` entitlements must carry; the gateway's default is "flexgate". */
  issuer?: string;
  clock?: () => Date;
  /** Milliseconds of a clock the user cannot set, for the time that passes (default `performance.now`; injectable for tests). */
  monotonic?: () => number;
  /** Allowance for a client clock behind or ahead of the gateway's, in seconds. */
  clockSkewSec?: number;
  /** Sent with launches; defaults to the host name. */
  machine?: string;
  http?: HttpOptions;
  /** A shared connection pool (the simulator runs many clients over one). */
  httpClient?: Http;
  provisional?: Partial<ProvisionalPolicy>;
}

export interface SignInRecord {
  gatewayUrl: string;
  autodeskId: string;
  /** The access token (minutes) and when it expires. */
  token: string;
  expiresAt: string;
  /** Single-use: each refresh answers the next one (absent: a gateway without refresh tokens). */
  refreshToken?: string;
  signedInAt: string;
  /**
   * When to renew `token`, by this machine's clock: its life as the gateway gave it, counted from
   * when it came (the two clocks may disagree by minutes). Absent in older records: `expiresAt`.
   */
  renewAt?: string;
  /** The clock floor when written (floor.ts). */
  seenAt?: string;
}

/** The key set as kept in `keyset.json`: for this gateway, with the clock floor when written. */
interface KeySetFile extends KeySetRecord {
  gatewayUrl: string;
  seenAt: string;
}

export interface SessionRef {
  product: string;
  sessionId: string;
  /** The machine the product runs on (default: the client's); R7a refunds only once every machine closed. */
  machine?: string;
  /** R7b (heartbeats): seconds the product was idle since the previous heartbeat, in stretches of 15 minutes or more. */
  idleSeconds?: number;
}

export interface ReconcileResult {
  reported: ProvisionalRecord[];
  /** Refused by the gateway (it decided; the record is dropped). */
  rejected: { record: ProvisionalRecord; code: RefusalCode; reason: string }[];
  pending: number;
  unreachable: boolean;
}

export interface WhoAmI {
  gatewayUrl: string;
  cacheDir: string;
  signedIn: boolean;
  autodeskId: string | null;
  signedInAt: string | null;
  tokenExpiresAt: string | null;
  /** `productName` and `teamName` are null when the entitlement predates them. */
  entitlements: {
    product: string;
    productName: string | null;
    source: string;
    team: string | null;
    teamName: string | null;
    expiresAt: string;
  }[];
  provisional: ProvisionalRecord[];
  /** The offline allowance in force (verified), or null: what this machine may launch during an outage. */
  offlineAllowance: {
    id: string;
    issuedAt: string;
    expiresAt: string;
    launches: number;
    /** Of `launches`, the slots no provisional launch waiting to be reported holds. */
    launchesLeft: number;
    products: AllowanceClaims['products'];
    /** Products listed only for the day already paid for, until its session ends (`until`, an instant). */
    paid: { product: string; team: string; until: string }[];
  } | null;
}

export interface FlexgateClient {
  readonly gatewayUrl: string;
  signIn(autodeskId: string, password: string): Promise<{ autodeskId: string; expiresAt: string }>;
  signOut(): Promise<void>;
  launch(product: string, options?: LaunchOptions): Promise<LaunchResult>;
  /**
   * Records a copy of `product` running on this machine in session `sessionId`, as `machine` if
   * given (runProduct does): its release says how many other copies of that session, as the same
   * machine, still run here, which keep it open.
   */
  attach(product: string, sessionId: string, machine?: string): Promise<RunningCopy>;
  /** What a launch would do now (granted or refused, the tokens it would charge, the balance after), asking the gateway; nothing changes. Throws when it cannot ask. */
  preview(product: string, options?: { team?: string }): Promise<LaunchPreview>;
  heartbeat(ref: SessionRef): Promise<LaunchResult>;
  end(ref: SessionRef): Promise<SessionEndResponse>;
  products(): Promise<Product[]>;
  catalog(): Promise<Product[]>;
  /** The signed-in user's own Flex use by day, product and team (`from`/`to`: days, `to` included; default the last 30 days). */
  usage(range?: { from?: string; to?: string }): Promise<MyUsageResponse>;
  whoami(): Promise<WhoAmI>;
  reconcile(): Promise<ReconcileResult>;
  /** The instant the client believes it is: never earlier than one it has already seen. */
  now(): Date;
  close(): Promise<void>;
}

/** Refusals saying the gateway would not grant the product now: the offline allowance must not either. */
const WITHDRAWN: ReadonlySet<string> = new Set(['no-access', 'insufficient-tokens', 'invitation-pending', 'unknown-product']);

/** The life a cached entitlement must have left to launch without asking the gateway. */
const CACHE_FIRST_LIFE_MS = 60_000;

const launchResponse = z.object({
  granted: z.literal(true),
  source: z.enum(['subscription', 'trial', 'flex']),
  charged: z.number(),
  session: z.object({ id: z.string(), startsAt: z.string(), endsAt: z.string() }).nullable(),
  balance: z.number().nullable(),
  team: z.string().nullable().optional(),
  entitlement: z.string(),
  expiresAt: z.string(),
});

const signInResponse = z.object({ token: z.string().min(1), expiresAt: z.string(), refreshToken: z.string().min(1).optional() });

export function createClient(options: ClientOptions): FlexgateClient {
  const gatewayUrl = options.gatewayUrl.replace(/\/+$/, '');
  checkTrust(options.trust);
  const clock = options.clock ?? (() => new Date());
  const skew = options.clockSkewSec ?? 30;
  const issuer = options.issuer ?? 'flexgate';
  const machine = options.machine ?? hostname();
  const policy: ProvisionalPolicy = { ...DEFAULT_PROVISIONAL, ...options.provisional };
  const store = createDiskStore(options.cacheDir);
  const http = options.httpClient ?? createHttp(gatewayUrl, options.http);

  // A clock wound back must not bring an expired entitlement back to life (floor.ts).
  const floor = createClockFloor({
    clock,
    store,
    settle: (t) => cache.settle(t),
    ...(options.monotonic && { monotonic: options.monotonic }),
  });
  const now = floor.now;
  const tick = floor.tick;

  const keys = createKeyStore({
    trust: options.trust,
    issuer,
    async fetchKeySet() {
      const res = await http.request({ method: 'GET', path: KEY_SET_PATH });
      if (res.status !== 200 || typeof res.body !== 'string') throw new Error(`the key set answered ${res.status}`);
      return res.body.trim();
    },
    async fetchRoot() {
      const res = await http.request({ method: 'GET', path: ROOT_KEY_PATH });
      if (res.status !== 200) throw new Error(`the root key answered ${res.status}`);
      return res.body;
    },
    async load() {
      const saved = await store.read<KeySetFile>('keyset.json');
      return saved?.gatewayUrl === gatewayUrl ? saved : null;
    },
    save: (record) => store.write('keyset.json', { ...record, gatewayUrl, seenAt: now().toISOString() } satisfies KeySetFile),
    onVerified: (set) => floor.observe(set.iat * 1000),
  });
  const verifier = createVerifier(keys, { issuer, clockSkewSec: skew, now });
  const cache = createEntitlementCache(store, verifier, { clockSkewSec: skew, now });

  /**
   * Every call to the gateway: its answer says which key set is current, and a newer one than
   * held is fetched before anything is trusted again (a revocation reaches the client here).
   */
  async function request(req: Parameters<Http['request']>[0]): Promise<HttpResponse> {
    const res = await http.request(req);
    const header = res.headers[KEY_SET_VERSION_HEADER];
    const ver = Number(Array.isArray(header) ? header[0] : header);
    if (Number.isSafeInteger(ver)) await keys.observe(ver);
    return res;
  }
  const provisional = createProvisionalStore(store);
  const copies = createCopies(store, () => now());
  // The verifier's own trusted keys: whichever keys the client trusts for entitlements, it trusts for allowances.
  const allowanceKeys = allowanceKeysOf(keys);
  const allowances = createAllowanceStore(store, { gatewayUrl, issuer, keys: allowanceKeys });

  async function signedIn(): Promise<SignInRecord | null> {
    const record = await store.read<SignInRecord>('signin.json');
    return record && record.gatewayUrl === gatewayUrl && typeof record.token === 'string' ? record : null;
  }

  async function requireUser(): Promise<SignInRecord> {
    const user = await signedIn();
    if (!user) throw new FlexgateError('unauthorized', notSignedIn(gatewayUrl), 401);
    return user;
  }

  /**
   * The access token renewed with the refresh token: one refresh at a time in this process, and a
   * record another process already renewed is taken as it is (refresh tokens are single-use). Null
   * when the sign-in is over (refresh token expired, revoked or reused) or the gateway is away.
   */
  let refreshing: Promise<SignInRecord | null> | null = null;
  function renewed(stale: SignInRecord): Promise<SignInRecord | null> {
    refreshing ??= refresh(stale)
      .finally(() => {
        refreshing = null;
      })
      .then(async (done) => {
        // The offline allowance renews with the sign-in it belongs to (best effort), once the
        // refresh is over: its own request may need the sign-in renewed, and must not wait for itself.
        if (done.rotated) await refreshAllowance(done.record).catch(() => {});
        return done.record;
      });
    return refreshing;
  }

  async function refresh(
    stale: SignInRecord,
  ): Promise<{ record: SignInRecord; rotated: true } | { record: SignInRecord | null; rotated: false }> {
    const current = (await signedIn()) ?? stale;
    if (current.token !== stale.token && !expiresSoon(current)) return { record: current, rotated: false };
    if (!current.refreshToken) return { record: null, rotated: false };
    let res: HttpResponse;
    try {
      res = await request({ method: 'POST', path: '/v1/token/refresh', body: { refreshToken: current.refreshToken } });
    } catch (err) {
      if (err instanceof GatewayUnreachableError) return { record: null, rotated: false };
      throw err;
    }
    if (res.status === 409) {
      // Another process of this user refreshed a moment ago: its record has the new tokens.
      await new Promise((r) => setTimeout(r, 250));
      const theirs = await signedIn();
      return { record: theirs && theirs.token !== current.token ? theirs : null, rotated: false };
    }
    const parsed = signInResponse.safeParse(res.body);
    if (res.status !== 200 || !parsed.success) return { record: null, rotated: false };
    const record: SignInRecord = {
      ...current,
      token: parsed.data.token,
      expiresAt: parsed.data.expiresAt,
      renewAt: renewAtOf(parsed.data.token, parsed.data.expiresAt),
      ...(parsed.data.refreshToken !== undefined && { refreshToken: parsed.data.refreshToken }),
    };
    await store.write('signin.json', record);
    return { record, rotated: true as const };
  }

  /**
   * A token's life is `expiresAt` less its `iat`, both the gateway's clock; renewed a quarter of it
   * (a minute at most) before it ends by this machine's, so that a clock minutes ahead neither
   * renews at every request nor finds every new token already "about to expire".
   */
  function renewAtOf(token: string, expiresAt: string): string {
    const life = Date.parse(expiresAt) - issuedAt(token);
    if (!(life > 0)) return new Date(Date.parse(expiresAt) - 60_000).toISOString();
    return new Date(now().getTime() + life - Math.min(60_000, life / 4)).toISOString();
  }

  function expiresSoon(user: SignInRecord): boolean {
    const renewAt = Date.parse(user.renewAt ?? '') || Date.parse(user.expiresAt) - 60_000;
    return !(renewAt > now().getTime());
  }

  /**
   * A request as the signed-in user: the access token renewed first when it is about to expire,
   * and once more on a 401 (a refused request did nothing, so sending it again is safe).
   */
  async function authed(user: SignInRecord, req: Omit<Parameters<Http['request']>[0], 'token'>): Promise<HttpResponse> {
    let current = user;
    if (current.refreshToken && expiresSoon(current)) current = (await renewed(current)) ?? current;
    const res = await request({ ...req, token: current.token });
    if (res.status !== 401 || !current.refreshToken) return res;
    const next = await renewed(current);
    return next ? request({ ...req, token: next.token }) : res;
  }

  /** `on`: the machine the request named (a session it opened and cannot use is closed for it). */
  async function grantFrom(res: HttpResponse, user: SignInRecord, product: string, on: string): Promise<VerifiedGrant | Refusal> {
    if (res.status !== 200) return refusalFrom(res);
    const parsed = launchResponse.safeParse(res.body);
    if (!parsed.success) {
      return {
        granted: false,
        code: 'internal-error',
        reason: 'The gateway sent a launch answer this client does not understand.',
        status: 200,
      };
    }
    const body = parsed.data;
    let claims: VerifiedGrant['claims'];
    try {
      claims = await verifier.verify(body.entitlement, { product, sub: user.autodeskId, allowRefresh: true });
    } catch (err) {
      if (!(err instanceof EntitlementRejected)) throw err;
      const why = err.code === 'expired' ? `${err.message} ${clockAhead(body.entitlement)}` : err.message;
      // Charged for a day this client cannot use: closed at once, within R7a's free 5 minutes, it is refunded.
      const refund = body.charged > 0 && body.session ? await closeUnusable(user, body.session.id, body.charged, on) : '';
      return { granted: false, code: 'invalid-entitlement', reason: `The gateway's entitlement was not accepted: ${why}${refund}` };
    }
    floor.observe(claims.iat * 1000);
    const team = body.team ?? claims.team;
    await cache.put(user.autodeskId, product, {
      autodeskId: user.autodeskId,
      product,
      entitlement: body.entitlement,
      session: body.session,
      team,
      savedAt: now().toISOString(),
    });
    return {
      granted: true,
      provisional: false,
      source: body.source,
      charged: body.charged,
      balance: body.balance,
      team,
      session: body.session,
      sessionEnd: body.session?.endsAt ?? null,
      claims,
      entitlement: body.entitlement,
      expiresAt: new Date(claims.exp * 1000).toISOString(),
      fromCache: false,
    };
  }

  /**
   * A fresh entitlement already past its end: the gateway signed it a moment ago, so this machine's
   * time is ahead of the gateway's, now or at some time the client saw (it never goes back, floor.ts).
   */
  function clockAhead(entitlement: string): string {
    const issued = issuedAt(entitlement);
    const gateway = Number.isNaN(issued) ? 'the gateway' : `the gateway (${new Date(issued).toISOString()})`;
    return `This machine's time (${now().toISOString()}) is ahead of ${gateway}: set its clock right; if it is right, a wrong time was seen before and every later time is kept: remove the cache folder (${options.cacheDir}) and sign in again.`;
  }

  /** Ends a session this client refused the entitlement of; the sentence saying what became of its charge. */
  async function closeUnusable(user: SignInRecord, sessionId: string, charged: number, on: string): Promise<string> {
    const ended = await authed(user, endRequest(sessionId, on)).catch(() => null);
    const body = ended?.status === 200 ? (ended.body as SessionEndResponse) : null;
    if (body && body.refunded > 0)
      return ` The session it opened (${sessionId}) was ended at once and its ${body.refunded} tokens refunded.`;
    if (body)
      return ` The session it opened (${sessionId}) was ended at once but not refunded (R7a refunds one quick close a day per product): ${charged} tokens stay charged.`;
    return ` It charged ${charged} tokens for session ${sessionId}, which could not be ended: end it within 5 minutes of its start to be refunded.`;
  }

  function fromCache({ claims, record }: VerifiedCacheEntry): VerifiedGrant {
    // Unsigned extras are shown only when they agree with the signed session id.
    const session = record.session && record.session.id === claims.sid ? record.session : null;
    return {
      granted: true,
      provisional: false,
      source: claims.source,
      charged: 0,
      balance: null,
      team: claims.team,
      session,
      sessionEnd: session?.endsAt ?? null,
      claims,
      entitlement: record.entitlement,
      expiresAt: new Date(claims.exp * 1000).toISOString(),
      fromCache: true,
    };
  }

  function provisionalGrant(record: ProvisionalRecord, reused: boolean): ProvisionalGrant {
    return {
      granted: true,
      provisional: true,
      source: null,
      charged: 0,
      balance: null,
      team: record.team ?? null,
      session: null,
      sessionEnd: null,
      claims: null,
      entitlement: null,
      expiresAt: record.expiresAt,
      fromCache: reused,
      provisionalId: record.id,
      launchedAt: record.launchedAt,
    };
  }

  async function offline(user: SignInRecord, product: string, opts: LaunchOptions, err: GatewayUnreachableError): Promise<LaunchResult> {
    const t = await tick();
    const decision = decideProvisional(
      {
        now: t,
        allowance: policy.enabled ? ((await allowances.get(user.autodeskId))?.claims ?? null) : null,
        records: await provisional.forUser(user.autodeskId),
        autodeskId: user.autodeskId,
        product,
        ...(opts.team !== undefined && { team: opts.team }),
        machine: opts.machine ?? machine,
        skewMs: skew * 1000,
      },
      policy,
    );
    if (decision.kind === 'grant') {
      await provisional.put(decision.record);
      return provisionalGrant(decision.record, false);
    }
    if (decision.kind === 'reuse') return provisionalGrant(decision.record, true);
    return { granted: false, code: 'gateway-unreachable', reason: `${err.message} ${decision.reason}` };
  }

  /**
   * Asks for a new offline allowance when the one kept is missing, an hour old, or does not list
   * `product` (just granted). Its own request, after an answered launch or a sign-in, never in the
   * launch's way: any failure leaves the allowance as it was.
   */
  async function refreshAllowance(user: SignInRecord, product?: string, force = false): Promise<void> {
    if (!policy.enabled) return;
    if (!force && !allowanceStale((await allowances.get(user.autodeskId))?.claims ?? null, now(), product)) return;
    let res: HttpResponse;
    try {
      res = await authed(user, { method: 'POST', path: '/v1/offline-allowance', body: { machine } });
    } catch (err) {
      if (err instanceof GatewayUnreachableError) return;
      throw err;
    }
    if (res.status === 403 && isProblem(res.body) && res.body.code === 'offline-not-allowed') {
      // The operator turned provisional launches off: what was allowed before is withdrawn here too.
      await allowances.remove(user.autodeskId);
      return;
    }
    const jws = (res.body as { allowance?: unknown } | null)?.allowance;
    if (res.status !== 201 || typeof jws !== 'string') return;
    try {
      await verifyAllowance(jws, { issuer, sub: user.autodeskId, keys: allowanceKeys, allowRefresh: true });
    } catch (e) {
      if (e instanceof AllowanceRejected) return;
      throw e;
    }
    await allowances.put(user.autodeskId, jws, now());
  }

  /**
   * The gateway just refused `product` (access, tokens, invitation: R4, R11-R13): the allowance kept,
   * issued when it was granted, must not grant it offline (the report would be refused, so nothing
   * would pay for it). A new allowance lists what a launch gets now; without one, none is kept.
   */
  async function afterRefusal(user: SignInRecord, product: string, result: LaunchResult): Promise<void> {
    if (result.granted || !WITHDRAWN.has(result.code)) return;
    const kept = (await allowances.get(user.autodeskId))?.claims;
    if (!kept || !allowanceLists(kept, product, now())) return;
    await refreshAllowance(user, undefined, true).catch(() => {});
    if ((await allowances.get(user.autodeskId))?.claims.aid === kept.aid) await allowances.remove(user.autodeskId);
  }

  /**
   * The gateway's answer shows the day of the session opened at `startsAt` settled (R7a: no longer
   * refundable), so a relaunch is free online (R7). An allowance renewed within its free window
   * could not list it as paid; ask for one once (allowanceBeforeSettled bounds it by the kept
   * allowance's signed `iat`). What comes is verified as any allowance: the trigger only decides when to ask.
   */
  async function afterSettled(user: SignInRecord, product: string, startsAt: string): Promise<void> {
    if (!policy.enabled) return;
    const kept = (await allowances.get(user.autodeskId))?.claims ?? null;
    if (allowanceBeforeSettled(kept, product, startsAt, now())) await refreshAllowance(user, undefined, true).catch(() => {});
  }

  async function reconcileFor(user: SignInRecord): Promise<ReconcileResult> {
    const records = await provisional.forUser(user.autodeskId);
    const result: ReconcileResult = { reported: [], rejected: [], pending: 0, unreachable: false };
    for (const [i, record] of records.entries()) {
      let res: HttpResponse;
      try {
        res = await authed(user, {
          method: 'POST',
          path: '/v1/launch',
          // The record's id is the key: a report whose answer was lost charges once.
          idempotencyKey: `provisional-${record.id}`,
          body: {
            product: record.product,
            ...(record.team !== undefined && { team: record.team }),
            ...(record.machine !== undefined && { machine: record.machine }),
            provisional: { launchedAt: record.launchedAt, id: record.id },
          },
        });
      } catch (err) {
        if (!(err instanceof GatewayUnreachableError)) throw err;
        result.unreachable = true;
        result.pending = records.length - i;
        return result;
      }
      if (res.status === 200) {
        await provisional.remove(record);
        result.reported.push(record);
        continue;
      }
      const refusal = refusalFrom(res);
      // The gateway looked at it and said no (access, tokens, product, or a report it will never
      // take, such as one past 28 hours): its decision stands. Anything else (not signed in, busy,
      // unreachable) is kept for later.
      if ([400, 403, 404, 409, 422].includes(res.status)) {
        await provisional.remove(record);
        result.rejected.push({ record, code: refusal.code, reason: refusal.reason });
      } else {
        result.pending++;
      }
    }
    return result;
  }

  /**
   * R7a: a refunded session was never paid for, so its entitlement must not launch again. (The
   * gateway does not rely on this: that entitlement is a lease that runs out minutes later.)
   */
  async function forgetSession(user: SignInRecord, product: string, sessionId: string): Promise<void> {
    const entry = await cache.get(user.autodeskId, product);
    if (entry?.claims.sid === sessionId) await cache.put(user.autodeskId, product, { ...entry.record, endedAt: now().toISOString() });
  }

  /** A request whose unreachable gateway is an error to report (not an offline launch); as `user` when given. */
  async function call(user: SignInRecord | null, req: Omit<Parameters<Http['request']>[0], 'token'>): Promise<HttpResponse> {
    try {
      return await (user ? authed(user, req) : request(req));
    } catch (err) {
      if (err instanceof GatewayUnreachableError) throw new FlexgateError('gateway-unreachable', err.message);
      throw err;
    }
  }

  async function expectOk(res: HttpResponse): Promise<unknown> {
    if (res.status >= 200 && res.status < 300) return res.body;
    const refusal = refusalFrom(res);
    throw new FlexgateError(refusal.code, refusal.reason, res.status);
  }

  return {
    gatewayUrl,
    now,

    async signIn(autodeskId, password) {
      await tick();
      const res = await call(null, { method: 'POST', path: '/v1/signin', body: { autodeskId, password } });
      const parsed = signInResponse.safeParse(await expectOk(res));
      if (!parsed.success) throw new FlexgateError('internal-error', 'The gateway sent a sign-in answer this client does not understand.');
      const record: SignInRecord = {
        gatewayUrl,
        autodeskId: autodeskId.trim().toLowerCase(),
        token: parsed.data.token,
        expiresAt: parsed.data.expiresAt,
        renewAt: renewAtOf(parsed.data.token, parsed.data.expiresAt),
        ...(parsed.data.refreshToken !== undefined && { refreshToken: parsed.data.refreshToken }),
        signedInAt: now().toISOString(),
      };
      // Had now, while online, so later launches can be verified offline; a gateway the trust root
      // does not vouch for gets no sign-in recorded.
      if (!(await keys.current(true)) && keys.problem)
        throw new FlexgateError('untrusted-gateway', `${keys.problem} Check the trust root.`);
      await store.write('signin.json', { ...record, seenAt: now().toISOString() } satisfies SignInRecord);
      await reconcileFor(record);
      await refreshAllowance(record).catch(() => {});
      return { autodeskId: record.autodeskId, expiresAt: record.expiresAt };
    },

    async signOut() {
      // Ended on the gateway too (its refresh token and access tokens), when it can be reached.
      const user = await signedIn();
      if (user) await authed(user, { method: 'POST', path: '/v1/signout' }).catch(() => undefined);
      await store.remove('signin.json');
    },

    async launch(product, opts = {}) {
      await tick();
      const user = await signedIn();
      if (!user) return { granted: false, code: 'unauthorized', reason: notSignedIn(gatewayUrl) };
      let kept: VerifiedCacheEntry | null = null;
      if (!opts.fresh) {
        // A relaunch while the entitlement is valid needs no network at all; one about to end (or
        // in the skew's grace past its exp) is renewed by the gateway first: from the cache, the
        // product would stop before its first heartbeat could renew it.
        kept = await cache.get(user.autodeskId, product, opts.team);
        if (kept && kept.claims.exp * 1000 - now().getTime() >= CACHE_FIRST_LIFE_MS) return fromCache(kept);
      }
      // Reported first, so the provisional session (opened at its original launch time) is the
      // one this launch finds open: R7 then charges nothing more.
      const reconciled = await reconcileFor(user);
      let failure: GatewayUnreachableError;
      if (reconciled.unreachable) {
        failure = new GatewayUnreachableError(`The gateway at ${gatewayUrl} could not be reached.`, 0, null);
      } else {
        try {
          const res = await authed(user, {
            method: 'POST',
            path: '/v1/launch',
            idempotencyKey: randomUUID(),
            body: {
              product,
              ...(opts.team !== undefined && { team: opts.team }),
              machine: opts.machine ?? machine,
            },
          });
          const result = await grantFrom(res, user, product, opts.machine ?? machine);
          // Best effort: the launch was granted whatever becomes of the allowance.
          if (result.granted) await refreshAllowance(user, product).catch(() => {});
          else await afterRefusal(user, product, result);
          return result;
        } catch (err) {
          if (!(err instanceof GatewayUnreachableError)) throw err;
          failure = err;
        }
      }
      // The gateway away: what the cache holds runs until its exp, as an outage allows.
      const hit = opts.fresh ? await cache.get(user.autodeskId, product, opts.team) : kept;
      if (hit) return fromCache(hit);
      return offline(user, product, opts, failure);
    },

    async heartbeat({ product, sessionId, machine: on, idleSeconds }) {
      await tick();
      const user = await signedIn();
      if (!user) return { granted: false, code: 'unauthorized', reason: notSignedIn(gatewayUrl) };
      try {
        const res = await authed(user, {
          method: 'POST',
          path: `/v1/sessions/${encodeURIComponent(sessionId)}/heartbeat`,
          // Past 24 hours a heartbeat opens and charges the next session: retries must not twice.
          idempotencyKey: randomUUID(),
          body: { machine: on ?? machine, ...(idleSeconds !== undefined && idleSeconds > 0 && { idleSeconds }) },
        });
        // R7a: a void session (refunded): its entitlement never launches again, as after `end`.
        if (res.status === 409) await forgetSession(user, product, sessionId);
        const result = await grantFrom(res, user, product, on ?? machine);
        await afterRefusal(user, product, result);
        // Settled: the entitlement now outlives the lease a day still refundable gets.
        if (result.granted && result.source === 'flex' && result.session) {
          const startsAt = result.session.startsAt;
          if (result.claims.exp * 1000 > Date.parse(startsAt) + LEASE_MS) await afterSettled(user, product, startsAt);
        }
        return result;
      } catch (err) {
        if (!(err instanceof GatewayUnreachableError)) throw err;
        return { granted: false, code: 'gateway-unreachable', reason: err.message };
      }
    },

    attach: (product, sessionId, on) => copies.attach(product, sessionId, on),

    async end({ product, sessionId, machine: on }) {
      await tick();
      const user = await requireUser();
      const res = await call(user, endRequest(sessionId, on ?? machine));
      const body = (await expectOk(res)) as SessionEndResponse;
      if (typeof body?.refunded === 'number' && body.refunded > 0) await forgetSession(user, product, sessionId);
      else if (typeof body?.charged === 'number' && body.charged > 0) {
        // A paid day closed after its free window: the close settled it, and only a lease may be cached.
        const entry = await cache.get(user.autodeskId, product);
        const startsAt = entry?.claims.sid === sessionId ? entry.record.session?.startsAt : undefined;
        if (startsAt && Date.parse(body.endedAt) > Date.parse(startsAt) + FREE_CLOSE_MS) await afterSettled(user, product, startsAt);
      }
      return body;
    },

    async preview(product, opts = {}) {
      await tick();
      const user = await requireUser();
      const res = await call(user, {
        method: 'POST',
        path: '/v1/launch',
        body: { product, ...(opts.team !== undefined && { team: opts.team }), dryRun: true },
      });
      return (await expectOk(res)) as LaunchPreview;
    },

    async products() {
      const user = await requireUser();
      return asProducts(await expectOk(await call(user, { method: 'GET', path: '/v1/me/products' })));
    },

    async catalog() {
      const user = await requireUser();
      return asProducts(await expectOk(await call(user, { method: 'GET', path: '/v1/products' })));
    },

    async usage(range = {}) {
      const user = await requireUser();
      const q = new URLSearchParams({
        ...(range.from !== undefined && { from: range.from }),
        ...(range.to !== undefined && { to: range.to }),
      });
      const body = (await expectOk(
        await call(user, { method: 'GET', path: `/v1/me/usage${q.size > 0 ? `?${q}` : ''}` }),
      )) as MyUsageResponse;
      if (!Array.isArray(body?.rows))
        throw new FlexgateError('internal-error', 'The gateway sent a usage report this client does not understand.');
      return body;
    },

    async whoami() {
      await tick();
      const user = await signedIn();
      const entitlements: WhoAmI['entitlements'] = [];
      const pending: ProvisionalRecord[] = [];
      let offlineAllowance: WhoAmI['offlineAllowance'] = null;
      if (user) {
        for (const name of await cache.list()) {
          const record = await store.read<CachedEntitlement>(join('entitlements', name));
          if (!record || record.autodeskId !== user.autodeskId) continue;
          const hit = await cache.get(user.autodeskId, record.product);
          if (hit) {
            entitlements.push({
              product: hit.claims.product,
              productName: hit.claims.productName ?? null,
              source: hit.claims.source,
              team: hit.claims.team,
              teamName: hit.claims.teamName ?? null,
              expiresAt: new Date(hit.claims.exp * 1000).toISOString(),
            });
          }
        }
        pending.push(...(await provisional.forUser(user.autodeskId)));
        const allowance = (await allowances.get(user.autodeskId))?.claims;
        if (allowance && allowance.exp * 1000 > now().getTime()) {
          offlineAllowance = {
            id: allowance.aid,
            issuedAt: new Date(allowance.iat * 1000).toISOString(),
            expiresAt: new Date(allowance.exp * 1000).toISOString(),
            launches: allowance.launches,
            launchesLeft: Math.max(0, allowance.launches - pending.filter((r) => slotOf(r.id, allowance.aid) !== null).length),
            products: allowance.products,
            paid: (allowance.paid ?? [])
              .filter((p) => p.until * 1000 > now().getTime())
              .map((p) => ({ ...p, until: new Date(p.until * 1000).toISOString() })),
          };
        }
      }
      return {
        gatewayUrl,
        cacheDir: options.cacheDir,
        signedIn: user !== null,
        autodeskId: user?.autodeskId ?? null,
        signedInAt: user?.signedInAt ?? null,
        tokenExpiresAt: user?.expiresAt ?? null,
        entitlements,
        provisional: pending,
        offlineAllowance,
      };
    },

    async reconcile() {
      await tick();
      return reconcileFor(await requireUser());
    },

    async close() {
      if (!options.httpClient) await http.close();
    },
  };
}

/** The product closed on machine `on`: POST /v1/sessions/:id/end (R7a), a key of its own for retries. */
function endRequest(sessionId: string, on: string) {
  return {
    method: 'POST' as const,
    path: `/v1/sessions/${encodeURIComponent(sessionId)}/end`,
    idempotencyKey: randomUUID(),
    body: { machine: on },
  };
}

/** A refusal from the gateway's answer: its problem+json code and detail, or the HTTP status alone. */
export function refusalFrom(res: HttpResponse): Refusal {
  if (isProblem(res.body)) {
    const refusal: Refusal = { granted: false, code: res.body.code, reason: res.body.detail ?? res.body.title, status: res.status };
    if (res.body.requestId) refusal.requestId = res.body.requestId;
    return refusal;
  }
  const code: RefusalCode =
    res.status === 401
      ? 'unauthorized'
      : res.status === 403
        ? 'forbidden'
        : res.status === 404
          ? 'not-found'
          : res.status === 429
            ? 'too-many-requests'
            : res.status >= 500
              ? 'internal-error'
              : 'invalid-request';
  return { granted: false, code, reason: `The gateway answered HTTP ${res.status}.`, status: res.status };
}

function asProducts(body: unknown): Product[] {
  const list = Array.isArray(body) ? body : (body as { products?: unknown } | null)?.products;
  if (!Array.isArray(list)) throw new FlexgateError('internal-error', 'The gateway sent a product list this client does not understand.');
  return list as Product[];
}
