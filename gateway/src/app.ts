import type { IncomingMessage, ServerResponse } from 'node:http';
import { KEY_SET_PATH, KEY_SET_VERSION_HEADER, ROOT_KEY_PATH } from '@flexgate/shared';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Config } from './config';
import { findAsset } from './console/assets';
import { consoleRoutes } from './console/routes';
import type { Database } from './db/connect';
import type { LaunchStore } from './launch/store';
import type { AdjustableClock, Clock } from './lib/clock';
import { newId } from './lib/ids';
import type { Logger } from './lib/logger';
import { Metrics } from './lib/metrics';
import { passwords } from './lib/passwords';
import { constantTimeEquals } from './lib/secrets';
import { authenticate } from './middleware/auth';
import type { AppEnv } from './middleware/env';
import { onError, problemParts, problemResponse } from './middleware/problem';
import { accountLookup, peerAddress, rateLimit, signInSubject, TokenBuckets } from './middleware/rate-limit';
import { strictUtf8Body } from './middleware/strict-body';
import { auditRoutes } from './routes/audit';
import { credentialRoutes } from './routes/credentials';
import { launchLane, type NodeLane } from './routes/launch-lane';
import { memberRoutes } from './routes/members';
import { offlineRoutes } from './routes/offline';
import { router } from './routes/openapi';
import { operatorRoutes } from './routes/operator';
import { documentPublicRoutes } from './routes/public-docs';
import { reportRoutes } from './routes/reports';
import { spendRoutes } from './routes/spend';
import { teamRoutes } from './routes/teams';
import { userRoutes } from './routes/users';
import type { ServiceContext } from './services/context';
import { type Launch, launcher } from './services/launch';
import type { KeyRing } from './signing/keyring';

export interface AppDeps {
  config: Config;
  database: Database;
  clock: Clock;
  /** Present only when FLEXGATE_TEST_CLOCK=1: then POST /v1/test/clock exists. */
  testClock: AdjustableClock | null;
  keys: KeyRing;
  logger: Logger;
  /** What the launch needs from storage (launch/store.ts): its facts, its charges, the warm recheck. */
  store: LaunchStore;
  /** Prometheus counters; a fresh registry when absent. */
  metrics?: Metrics;
  /** Whether the gateway accepts requests (false while draining on SIGTERM). */
  ready?: () => boolean;
}

/** Builds the whole HTTP app from its dependencies, so tests can build it in-process. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  return createHttp(deps).app;
}

/**
 * The app, and the launch lane the server puts in front of it (routes/launch-lane.ts); both share
 * the metrics, rate-limit buckets, logger and services. In-process callers (`app.fetch`) get the
 * general path, which answers every launch the same way.
 */
export function createHttp(deps: AppDeps): {
  app: OpenAPIHono<AppEnv>;
  launchLane: NodeLane;
  unavailable: (detail: string) => NodeListener;
} {
  const ctx: ServiceContext = {
    db: deps.database.db,
    clock: deps.clock,
    keys: deps.keys,
    config: deps.config,
    passwords: passwords(deps.config.scryptN, { threads: deps.config.scryptThreads, queue: deps.config.scryptQueue }),
  };
  const metrics = deps.metrics ?? new Metrics();
  const launch = withLiveKeys(launcher(ctx, deps.store, deps.config.launchCache, metrics.warm), deps.keys);
  const app = router();

  // Request id, access log and request metrics: one info line per request, built only when info
  // is enabled. The id travels in the Hono context, and the two lines a request can write (this
  // one and onError's) pass it explicitly. Not an AsyncLocalStorage: on Node 20 it turns on
  // promise hooks for every promise in the process, a cost on every launch (BENCHMARKS.md).
  // A generated id is `req_` and 96 random bits from the id pool: a randomUUID's string building
  // showed in a warm launch's allocations (BENCHMARKS.md), and an id need not be a UUID.
  const requestId = (incoming: string | undefined) => (incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : newId('req'));
  const accessLog = (id: string, method: string, route: string, status: number, ms: number) =>
    deps.logger.info('request', { requestId: id, method, route, status, ms: Math.round(ms * 100) / 100 });
  const perIpLaunch = new TokenBuckets(deps.config.rateLimits.launchPerIp);
  // Every password a person tries from an address draws on one bucket: sign-in, and accepting an
  // invitation for an existing account (the API and the console's invitation page).
  const perIpSignin = { name: 'signin-per-ip', buckets: new TokenBuckets(deps.config.rateLimits.signinPerIp), key: peerAddress, metrics };
  const perUserLaunch = new TokenBuckets(deps.config.rateLimits.launchPerUser);
  // Adding an existing account answers whether that Autodesk ID exists: one bucket per admin, which
  // the API and the console's Members page both draw on.
  const lookupPerAdmin = { name: 'lookup-per-admin', buckets: new TokenBuckets(deps.config.rateLimits.lookupPerAdmin), metrics };
  const launchLaneHandler = launchLane({
    keys: deps.keys,
    launch,
    metrics,
    logger: deps.logger,
    bodyLimit: deps.config.bodyLimit,
    limits: deps.config.rateLimit ? { perIp: perIpLaunch, perUser: perUserLaunch } : null,
    requestId,
    accessLog,
    draining: () => deps.ready !== undefined && !deps.ready(),
  });
  app.use('*', async (c, next) => {
    const id = requestId(c.req.header('x-request-id'));
    c.set('requestId', id);
    const started = performance.now();
    await next();
    // On the final response, whoever built it: a refusal made by onError carries the id too.
    c.res.headers.set('x-request-id', id);
    // Every answer says which key set is current: a client holding an older one refreshes it.
    c.res.headers.set(KEY_SET_VERSION_HEADER, deps.keys.keySetVersion);
    const ms = performance.now() - started;
    const route = routePattern(c);
    const status = c.res.status;
    metrics.requests.inc({ method: c.req.method, route, status: String(status) });
    metrics.latency.observe({ method: c.req.method, route }, ms / 1000);
    accessLog(id, c.req.method, route, status, ms);
  });
  const limit = (maxSize: number): MiddlewareHandler<AppEnv> => {
    const streaming = bodyLimit({
      maxSize,
      onError: (c) => problemResponse(c, 'payload-too-large', `The request body is over ${maxSize} bytes.`),
    });
    // A body that declares its length is judged by the header alone (Node's parser never reads
    // past Content-Length). Hono's bodyLimit touches `req.raw.body`, which makes
    // @hono/node-server build a web ReadableStream for every request: on the launch path that
    // cost more than the launch itself. Chunked bodies still go through the streaming check.
    return (c, next) => {
      const declared = c.req.header('content-length');
      if (declared !== undefined && c.req.header('transfer-encoding') === undefined && /^\d+$/.test(declared)) {
        return Number(declared) > maxSize
          ? Promise.resolve(problemResponse(c, 'payload-too-large', `The request body is over ${maxSize} bytes.`))
          : next();
      }
      return streaming(c, next);
    };
  };
  const defaultLimit = limit(deps.config.bodyLimit);
  // R14: a member import of 10,000 CSV rows is larger than any JSON body; only that route gets more.
  const importLimit = limit(deps.config.importBodyLimit);
  const importPath = /^\/v1\/teams\/[^/]+\/members\/import$/;
  app.use('/v1/*', (c, next) => (importPath.test(c.req.path) ? importLimit(c, next) : defaultLimit(c, next)));
  app.use('/v1/*', strictUtf8Body());
  // Abuse: per-address limits run before the credential is checked (a flood costs no
  // signature check), per-user ones after it; FLEXGATE_RATE_LIMIT=off removes both.
  if (deps.config.rateLimit) {
    const r = deps.config.rateLimits;
    app.use('/v1/signin', rateLimit(perIpSignin));
    app.use('/v1/invitations/accept', rateLimit(perIpSignin));
    app.use('/v1/signin', rateLimit({ name: 'signin-per-user', buckets: new TokenBuckets(r.signinPerUser), key: signInSubject, metrics }));
    app.use('/v1/launch', rateLimit({ name: 'launch-per-ip', buckets: perIpLaunch, key: peerAddress, metrics, launch: true }));
  }
  // Wrong operator or admin keys, as many a minute from one address as passwords, on a bucket of
  // their own: a person guessing passwords does not lock the operator out of the same network.
  const wrongKeys = { name: 'keys-per-ip', buckets: new TokenBuckets(deps.config.rateLimits.signinPerIp), metrics };
  app.use('/v1/*', authenticate(ctx, deps.config.rateLimit ? wrongKeys : null));
  if (deps.config.rateLimit) {
    const user = (c: Context<AppEnv>) => {
      const p = c.get('principal');
      return p?.kind === 'user' ? p.autodeskId : null;
    };
    app.use('/v1/launch', rateLimit({ name: 'launch-per-user', buckets: perUserLaunch, key: user, metrics, launch: true }));
    // Adding an existing account answers whether that Autodesk ID exists: bounded per admin key.
    app.use('/v1/teams/:team/members', rateLimit({ ...lookupPerAdmin, key: accountLookup }));
    // Each allowance is a row: it counts as a launch, so a loop of requests cannot fill the table.
    app.use('/v1/offline-allowance', rateLimit({ name: 'offline-allowance-per-user', buckets: perUserLaunch, key: user, metrics }));
  }

  app.get('/healthz', (c) => {
    if (deps.ready && !deps.ready()) return problemResponse(c, 'service-unavailable', 'The gateway is shutting down.');
    return c.json({ ok: true, engine: deps.database.engine });
  });
  // Operator key, FLEXGATE_METRICS_TOKEN, or, only while no such token is set, a loopback peer (a
  // scraper on the same host). Behind a reverse proxy every peer is loopback: the token closes that.
  app.get('/metrics', (c) => {
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const { operatorKey, metricsToken } = deps.config;
    const allowed =
      (bearer !== undefined &&
        ((operatorKey !== undefined && constantTimeEquals(bearer, operatorKey)) ||
          (metricsToken !== undefined && constantTimeEquals(bearer, metricsToken)))) ||
      (bearer === undefined && metricsToken === undefined && isLoopback(peerAddress(c)));
    if (!allowed)
      return problemResponse(
        c,
        'forbidden',
        metricsToken === undefined
          ? 'GET /metrics answers loopback peers and the operator key (or FLEXGATE_METRICS_TOKEN, once set).'
          : 'GET /metrics answers FLEXGATE_METRICS_TOKEN and the operator key.',
      );
    return c.body(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  // Someone who opens the gateway's address in a browser wants the console; a script, where to go.
  app.get('/', (c) => {
    if ((c.req.header('accept') ?? '').includes('text/html')) return c.redirect('/console', 302);
    return c.json({
      name: 'flexgate',
      console: '/console',
      openapi: '/openapi.json',
      jwks: '/.well-known/jwks.json',
      keySet: KEY_SET_PATH,
      rootKey: ROOT_KEY_PATH,
      health: '/healthz',
    });
  });
  // Browsers ask for it on every page of the gateway's origin: the console's icon, not a 404.
  app.get('/favicon.ico', (c) => {
    const icon = findAsset('icon.svg');
    if (!icon) return c.body(null, 404);
    return c.body(icon.body, 200, { 'content-type': icon.type, 'cache-control': 'public, max-age=86400' });
  });
  app.get('/.well-known/jwks.json', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json(deps.keys.jwks());
  });
  // Not cached: a revocation must reach the next client that asks.
  app.get(KEY_SET_PATH, (c) => c.body(deps.keys.keySetJws, 200, { 'content-type': 'application/jose', 'cache-control': 'no-cache' }));
  app.get(ROOT_KEY_PATH, (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.json(deps.keys.rootJwk);
  });

  app.route('/', operatorRoutes(ctx, deps.testClock));
  app.route('/', credentialRoutes(ctx));
  app.route('/', teamRoutes(ctx));
  app.route('/', memberRoutes(ctx));
  app.route('/', reportRoutes(ctx));
  app.route('/', spendRoutes(ctx));
  app.route('/', auditRoutes(ctx));
  app.route('/', userRoutes(ctx, launch, metrics));
  app.route('/', offlineRoutes(ctx));
  app.route(
    '/console',
    consoleRoutes(ctx, deps.logger, {
      perIpSignin: deps.config.rateLimit ? perIpSignin : null,
      lookupPerAdmin: deps.config.rateLimit ? lookupPerAdmin : null,
    }),
  );

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'flexgate',
      version: '0.1.0',
      description:
        'Entitlement gateway for pay-as-you-go Flex licensing. Rule numbers (R1-R19) in these summaries and the `rule` field of refusals refer to docs/rules.md in the repository; docs/http.md describes every route.',
    },
  });
  documentPublicRoutes(app);

  app.notFound((c) => problemResponse(c, 'not-found', `No route ${c.req.method} ${c.req.path}.`));
  app.onError(onError(deps.logger));
  /**
   * Answers every request 503 before any route sees it, for a gateway that must write nothing more
   * (a newer flexgate migrated its database: server.ts swaps it in). Each answer closes its
   * connection, and says to retry: elsewhere, a load balancer's other instances answer.
   */
  const unavailable =
    (detail: string): NodeListener =>
    (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id = requestId(typeof incoming === 'string' ? incoming : undefined);
      const p = problemParts(id, 'service-unavailable', detail);
      res.writeHead(p.status, {
        ...p.headers,
        'retry-after': '1',
        connection: 'close',
        'content-length': Buffer.byteLength(p.body),
        'x-request-id': id,
        [KEY_SET_VERSION_HEADER]: deps.keys.keySetVersion,
      });
      res.end(p.body);
      const method = req.method ?? 'GET';
      metrics.requests.inc({ method, route: 'unavailable', status: String(p.status) });
      accessLog(id, method, 'unavailable', p.status, 0);
    };
  return { app, launchLane: launchLaneHandler, unavailable };
}

/** A node:http request handler. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The launch, its entitlement signed again when a revoked key signed it (a session opened before
 * the revocation): an answer a client would refuse is no answer. A synchronous answer stays one.
 */
function withLiveKeys(launch: Launch, keys: KeyRing): Launch {
  return (input) => {
    const answer = launch(input);
    return answer instanceof Promise ? answer.then((a) => keys.live(a)) : keys.live(answer);
  };
}

/** The route pattern that answered (bounded label set), never the raw path (unbounded). */
function routePattern(c: Context<AppEnv>): string {
  const p = c.req.routePath;
  return !p || p.endsWith('*') ? 'unmatched' : p;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
