import type { Context, Handler } from 'hono';
import { DomainError } from '../domain/errors';
import type { Logger } from '../lib/logger';
import type { Metrics } from '../lib/metrics';
import type { AppEnv } from '../middleware/env';
import { onError } from '../middleware/problem';
import { limitedResponse, peerAddress, type TokenBuckets } from '../middleware/rate-limit';
import { isNulFree } from '../middleware/strict-body';
import type { ServiceContext } from '../services/context';
import { launch } from '../services/launch';
import { idempotencyHeader } from './openapi';
import { countLaunch, launchRequest } from './users';

export interface LaneDeps {
  ctx: ServiceContext;
  metrics: Metrics;
  logger: Logger;
  bodyLimit: number;
  /** The same buckets the general chain uses, so both paths count against one limit; null: off. */
  limits: { perIp: TokenBuckets; perUser: TokenBuckets } | null;
  /** The request id (the client's X-Request-Id when well-formed), as the general chain picks it. */
  requestId: (c: Context<AppEnv>) => string;
  /** The access log line, as the general chain writes it. */
  accessLog: (id: string, method: string, route: string, status: number, ms: number) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Three dot-separated parts, as an ID token has; admin keys and the operator key have none. */
function isJwtShaped(token: string): boolean {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  return second > 0 && token.indexOf('.', second + 1) < 0;
}

/**
 * POST /v1/launch, the check every product makes at start-up, without the general middleware
 * chain (issue 7). Products send it far more than anything else, and the chain (seven middleware,
 * the OpenAPI validators, a web Headers object per response) cost more than the launch itself.
 *
 * It is the same endpoint, not a second one: the same body limit, UTF-8 and NUL rules, the same
 * zod schemas, the same rate-limit buckets, the same ID-token check, the same `launch` service and
 * the same problem+json. Whatever is not the common case (no Content-Length, a body that is not
 * JSON or fails its schema, a credential that is not an ID token, a limited client) is handed,
 * untouched apart from its body being read, to the general chain, whose answer is the reference;
 * `test/e2e/bad-input.test.ts` and `abuse.test.ts` go through both.
 */
export function launchLane(d: LaneDeps): Handler<AppEnv> {
  const renderError = onError(d.logger);
  const ok = d.metrics.requests.bind({ method: 'POST', route: '/v1/launch', status: '200' });
  const okLatency = d.metrics.latency.bind({ method: 'POST', route: '/v1/launch' });
  const flexWarm = d.metrics.launches.bind({ source: 'flex', charged: 'no' });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || !/^\d{1,7}$/.test(declared) || Number(declared) > d.bodyLimit) return next();
    if (c.req.header('transfer-encoding') !== undefined || c.req.url.includes('%')) return next();
    const type = c.req.header('content-type');
    const bearer = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    // ID tokens only (three dot-separated parts); the operator key and admin keys take the chain.
    if (type === undefined || !JSON_TYPE.test(type) || bearer === undefined || bearer.length > 4096 || !isJwtShaped(bearer)) return next();
    const keyHeader = c.req.header('idempotency-key');
    let key: string | undefined;
    if (keyHeader !== undefined) {
      const headers = idempotencyHeader.safeParse({ 'idempotency-key': keyHeader });
      if (!headers.success) return next();
      key = headers.data['idempotency-key'];
    }

    let text: string;
    try {
      text = utf8.decode(await c.req.arrayBuffer());
    } catch {
      return next();
    }
    // Hono keeps promises in its body cache: the chain, if it takes over, reads this same text.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    if (!isNulFree(text)) return next();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return next();
    }
    const body = launchRequest.safeParse(parsed);
    if (!body.success) return next();

    const started = performance.now();
    const id = d.requestId(c);
    c.set('requestId', id);
    const done = (res: Response) => {
      res.headers.set('x-request-id', id);
      const ms = performance.now() - started;
      d.metrics.requests.inc({ method: 'POST', route: '/v1/launch', status: String(res.status) });
      d.metrics.latency.observe({ method: 'POST', route: '/v1/launch' }, ms / 1000);
      d.accessLog(id, 'POST', '/v1/launch', res.status, ms);
      return res;
    };
    // Per address before the credential is checked (a flood costs no signature check), per user after.
    const ipWait = d.limits ? d.limits.perIp.take(peerAddress(c)) : 0;
    if (ipWait > 0) return done(limitedResponse(c, { name: 'launch-per-ip', metrics: d.metrics, launch: true }, ipWait));
    try {
      const autodeskId = (await d.ctx.keys.verifyIdToken(bearer)).sub;
      const userWait = d.limits ? d.limits.perUser.take(autodeskId) : 0;
      if (userWait > 0) return done(limitedResponse(c, { name: 'launch-per-user', metrics: d.metrics, launch: true }, userWait));
      const input = body.data;
      const answer = await launch(d.ctx, {
        autodeskId,
        product: input.product,
        team: input.team,
        machine: input.machine,
        provisional: input.provisional,
        idempotency: key ? { scope: `launch:${autodeskId}`, key, request: input } : undefined,
      });
      if (answer.source === 'flex' && answer.charged === 0) flexWarm();
      else countLaunch(d.metrics, answer);
      const ms = performance.now() - started;
      ok();
      okLatency(ms / 1000);
      d.accessLog(id, 'POST', '/v1/launch', 200, ms);
      // Plain header objects: @hono/node-server writes them as they are, without a web Headers.
      return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': id } });
    } catch (error) {
      if (error instanceof DomainError) d.metrics.refusals.inc({ code: error.code });
      return done(renderError(error instanceof Error ? error : new Error(String(error)), c));
    }
  };
}
