import { randomUUID } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { Config } from './config';
import type { Database } from './db/connect';
import type { AdjustableClock, Clock } from './lib/clock';
import type { Logger } from './lib/logger';
import { authenticate } from './middleware/auth';
import type { AppEnv } from './middleware/env';
import { onError, problemResponse } from './middleware/problem';
import { router } from './routes/openapi';
import { operatorRoutes } from './routes/operator';
import { memberRoutes } from './routes/members';
import { reportRoutes } from './routes/reports';
import { teamRoutes } from './routes/teams';
import { userRoutes } from './routes/users';
import type { ServiceContext } from './services/context';
import type { KeyRing } from './signing/keyring';

export interface AppDeps {
  config: Config;
  database: Database;
  clock: Clock;
  /** Present only when FLEXGATE_TEST_CLOCK=1: then POST /v1/test/clock exists. */
  testClock: AdjustableClock | null;
  keys: KeyRing;
  logger: Logger;
  /** Whether the gateway accepts requests (false while draining on SIGTERM). */
  ready?: () => boolean;
}

/** Builds the whole HTTP app from its dependencies, so tests can build it in-process. */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const ctx: ServiceContext = { db: deps.database.db, clock: deps.clock, keys: deps.keys, config: deps.config };
  const app = router();

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    c.set('requestId', id);
    c.header('x-request-id', id);
    const started = performance.now();
    await next();
    deps.logger.debug('request', {
      requestId: id,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
  });
  const limit = (maxSize: number) =>
    bodyLimit({ maxSize, onError: (c) => problemResponse(c, 'payload-too-large', `The request body is over ${maxSize} bytes.`) });
  const defaultLimit = limit(deps.config.bodyLimit);
  // R14: a member import of 10,000 CSV rows is larger than any JSON body; only that route gets more.
  const importLimit = limit(deps.config.importBodyLimit);
  const importPath = /^\/v1\/teams\/[^/]+\/members\/import$/;
  app.use('/v1/*', (c, next) => (importPath.test(c.req.path) ? importLimit(c, next) : defaultLimit(c, next)));
  app.use('/v1/*', authenticate(ctx));

  app.get('/healthz', (c) => {
    if (deps.ready && !deps.ready()) return problemResponse(c, 'service-unavailable', 'The gateway is shutting down.');
    return c.json({ ok: true, engine: deps.database.engine });
  });
  app.get('/.well-known/jwks.json', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json(deps.keys.jwks());
  });

  app.route('/', operatorRoutes(ctx, deps.testClock));
  app.route('/', teamRoutes(ctx));
  app.route('/', memberRoutes(ctx));
  app.route('/', reportRoutes(ctx));
  app.route('/', userRoutes(ctx));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'flexgate', version: '0.1.0', description: 'Entitlement gateway for pay-as-you-go Flex licensing' },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  app.notFound((c) => problemResponse(c, 'not-found', `No route ${c.req.method} ${c.req.path}.`));
  app.onError(onError(deps.logger));
  return app;
}
