import {
  installableProductResponse,
  launchBody,
  launchPreviewResponse,
  launchResponse,
  sessionBody,
  sessionEndResponse,
  signInBody,
  tokensResponse,
} from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { Metrics } from '../lib/metrics';
import { requireUser } from '../middleware/auth';
import { signIn } from '../services/accounts';
import type { ServiceContext } from '../services/context';
import { myProducts } from '../services/downloads';
import type { Launch, LaunchInput } from '../services/launch';
import { dryRunLaunch } from '../services/preview';
import { endSession, heartbeat } from '../services/sessions';
import { answers, body, callers, idempotencyHeader, jsonBody, router } from './openapi';

const tags = ['user'];
const sessionParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/),
});
/** `{machine?}`, optional as a whole: a request without a body speaks for the unnamed machine. */
const sessionRequest = { content: { 'application/json': { schema: sessionBody } }, required: false };

/** The launch body as the contract has it, plus the report of a provisional launch made offline. */
export const launchRequest = launchBody.extend({
  /** Answer what this launch would do now (granted or refused, source, charge, balance after); change nothing. */
  dryRun: z.boolean().optional(),
  provisional: z
    .strictObject({
      // `${allowance id}.${slot}` (domain/allowance.ts); anything else is refused as unknown, not as malformed.
      id: z
        .string()
        .min(8)
        .max(100)
        .regex(/^[A-Za-z0-9_.-]+$/),
      launchedAt: z
        .string()
        .max(40)
        .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 instant'),
    })
    .optional(),
});

export type LaunchRequest = z.infer<typeof launchRequest>;

/** A user's Idempotency-Keys for launches and heartbeats: one space per user, shared by both (docs/http.md). */
const launchScope = (autodeskId: string) => `launch:${autodeskId}`;

/** The launch service's input from the request body, for the user the token names: the lane's and the route's. */
export function launchInput(autodeskId: string, input: LaunchRequest, key: string | undefined): LaunchInput {
  return {
    autodeskId,
    product: input.product,
    team: input.team,
    machine: input.machine,
    provisional: input.provisional,
    idempotency: key ? { scope: launchScope(autodeskId), key, request: input } : undefined,
  };
}

/** Launch metrics are counted here, where the launch answers, so services stay free of them. */
export function countLaunch(metrics: Metrics, answer: { source: string; charged: number }): void {
  metrics.launches.inc({ source: answer.source, charged: answer.charged > 0 ? 'yes' : 'no' });
  if (answer.charged > 0) metrics.tokensCharged.inc({ via: 'launch' }, answer.charged);
}

async function countRefusal<T>(metrics: Metrics, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) metrics.refusals.inc({ code: error.code });
    throw error;
  }
}

export function userRoutes(ctx: ServiceContext, launch: Launch, metrics: Metrics = new Metrics()) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/signin',
      tags,
      summary: 'Sign in with an Autodesk ID; returns a short-lived ID token',
      request: jsonBody(signInBody),
      responses: answers({ 200: body(tokensResponse, 'An ID token and its refresh token') }, [400, 401, 429, 503]),
    }),
    async (c) => c.json(await signIn(ctx, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/launch',
      tags,
      security: callers.user,
      summary: 'A product asks whether it may run: subscription, then trial, then Flex (R9); Flex charges once per 24 h (R6, R7)',
      request: { headers: idempotencyHeader, ...jsonBody(launchRequest) },
      responses: answers(
        {
          200: body(
            z.union([launchResponse, launchPreviewResponse]),
            'A granted launch with its signed entitlement; with dryRun, what the launch would do',
          ),
        },
        [400, 401, 403, 404, 409, 429],
      ),
    }),
    async (c) => {
      const autodeskId = requireUser(c);
      const body = c.req.valid('json');
      if (body.dryRun) {
        if (body.provisional)
          throw new DomainError('invalid-request', 'A provisional launch is a report of what happened: it cannot be a dry run.');
        return c.json(await dryRunLaunch(ctx, { autodeskId, product: body.product, team: body.team }), 200);
      }
      const key = c.req.valid('header')['idempotency-key'];
      const answer = await countRefusal(metrics, () => launch(launchInput(autodeskId, body, key)));
      countLaunch(metrics, answer);
      return c.json(answer, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{id}/heartbeat',
      tags,
      security: callers.user,
      summary:
        'The product is still running on `machine`; after the free window this settles the day (R7a), past 24 h it opens and charges the next session (R7)',
      request: { params: sessionParam, headers: idempotencyHeader, body: sessionRequest },
      responses: answers({ 200: body(launchResponse, 'The session, as a launch answers it') }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const autodeskId = requireUser(c);
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const machine = body.machine ?? '';
      const key = c.req.valid('header')['idempotency-key'];
      const idleSeconds = body.idleSeconds ?? 0;
      const idem = key ? { scope: launchScope(autodeskId), key, request: { heartbeat: id, machine, idleSeconds } } : undefined;
      // Signed again if a revoked key signed it (keys.live), as launches are.
      const answer = await ctx.keys.live(await heartbeat(ctx, launch, autodeskId, id, machine, idem, idleSeconds));
      // R7: a heartbeat past the 24 hours opens and charges the next session: tokens charged too.
      if (answer.charged > 0) metrics.tokensCharged.inc({ via: 'heartbeat' }, answer.charged);
      return c.json(answer, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{id}/end',
      tags,
      security: callers.user,
      summary: 'The product closed on `machine`; within 5 minutes of opening, once every machine closed, the charge is refunded (R7a)',
      request: { params: sessionParam, body: sessionRequest },
      responses: answers({ 200: body(sessionEndResponse, 'What the session cost in the end') }, [400, 401, 403, 404]),
    }),
    async (c) => c.json(await endSession(ctx, requireUser(c), c.req.valid('param').id, c.req.valid('json').machine ?? ''), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/products',
      tags,
      security: callers.user,
      summary: 'Products the signed-in user may install (R16)',
      responses: answers({ 200: body(z.array(installableProductResponse), 'Products with how they are reachable') }, [401, 403]),
    }),
    async (c) => c.json(await myProducts(ctx, requireUser(c)), 200),
  );

  return app;
}
