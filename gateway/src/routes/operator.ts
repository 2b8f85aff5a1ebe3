import {
  accountResponse,
  adminCreatedResponse,
  clockBody,
  clockResponse,
  createAdminBody,
  createProductBody,
  createTeamBody,
  createUserBody,
  keyRevokedResponse,
  licenseBody,
  licenseResponse,
  type OutboxMessage,
  outboxMessageResponse,
  outboxQuery,
  productKey,
  productResponse,
  rotatedKeyResponse,
  signingKeyResponse,
  teamResponse,
  updateProductBody,
} from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { jsonBytes } from '../lib/bodies';
import type { AdjustableClock } from '../lib/clock';
import { operatorOrigin, requireAnyone, requireOperator } from '../middleware/auth';
import { createAccount } from '../services/accounts';
import { audit } from '../services/audit';
import { catalog, changeProduct, createProduct } from '../services/catalog';
import type { ServiceContext } from '../services/context';
import { grantLicense } from '../services/licenses';
import { outboxJson } from '../services/outbox';
import { createAdmin, createTeam } from '../services/teams';
import { answers, body, callers, jsonBody, nextLink, router } from './openapi';

const tags = ['operator'];
/** A signing key's kid: its RFC 7638 thumbprint (base64url), or whatever an older gateway named it. */
const kidParam = z.object({
  kid: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/),
});

export function operatorRoutes(ctx: ServiceContext, testClock: AdjustableClock | null) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/products',
      tags,
      security: callers.operator,
      summary: 'Add a product to the Flex catalog, optionally with its subscriptionPricePerYear (minor units of FLEXGATE_CURRENCY)',
      request: jsonBody(createProductBody),
      responses: answers({ 201: body(productResponse, 'The product') }, [400, 401, 403, 409]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await createProduct(ctx, c.req.valid('json'), operatorOrigin(c)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/products/{key}',
      tags,
      security: callers.operator,
      summary:
        "Change a product's daily rate (R8: applies to sessions opened afterwards) and/or its subscriptionPricePerYear (minor units of FLEXGATE_CURRENCY; null clears it)",
      request: { params: z.object({ key: productKey }), ...jsonBody(updateProductBody) },
      responses: answers({ 200: body(productResponse, 'The product') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await changeProduct(ctx, c.req.valid('param').key, c.req.valid('json'), operatorOrigin(c)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/products',
      tags: ['catalog'],
      security: callers.anyone,
      summary: 'The Flex catalog with daily rates',
      responses: answers({ 200: body(z.array(productResponse), 'The catalog') }, [401]),
    }),
    async (c) => {
      requireAnyone(c);
      return c.json(await catalog(ctx), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams',
      tags,
      security: callers.operator,
      summary: 'Create a team',
      request: jsonBody(createTeamBody),
      responses: answers({ 201: body(teamResponse, 'The team') }),
    }),
    async (c) => {
      requireOperator(c);
      const team = await createTeam(ctx, c.req.valid('json').name, operatorOrigin(c));
      return c.json({ id: team.id, name: team.name, createdAt: team.createdAt }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admins',
      tags,
      security: callers.operator,
      summary: 'Create a team admin; the key is shown once',
      request: jsonBody(createAdminBody),
      responses: answers({ 201: body(adminCreatedResponse, 'The admin and its key, shown once') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await createAdmin(ctx, c.req.valid('json'), operatorOrigin(c)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/users',
      tags,
      security: callers.operator,
      summary: 'Create an Autodesk account',
      request: jsonBody(createUserBody),
      responses: answers({ 201: body(accountResponse, 'The account') }, [400, 401, 403, 409]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await createAccount(ctx, c.req.valid('json'), operatorOrigin(c)), 201);
    },
  );

  for (const kind of ['subscription', 'trial'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: kind === 'subscription' ? '/v1/subscriptions' : '/v1/trials',
        tags,
        security: callers.operator,
        summary: `Record a single-user ${kind} (R9)`,
        request: jsonBody(licenseBody),
        responses: answers({ 201: body(licenseResponse, `The ${kind}`) }, [400, 401, 403, 404]),
      }),
      async (c) => {
        requireOperator(c);
        return c.json(await grantLicense(ctx, kind, c.req.valid('json'), operatorOrigin(c)), 201);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/keys/rotate',
      tags,
      security: callers.operator,
      summary: 'Start signing with a new key; old keys stay in the JWKS until their tokens expire',
      responses: answers({ 200: body(rotatedKeyResponse, 'The new signing key') }, [401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      const origin = operatorOrigin(c);
      const at = ctx.clock.now().toISOString();
      const kid = await ctx.keys.rotate((trx, fresh) =>
        audit(trx, origin, at, { team: null, action: 'signing-key.rotated', target: fresh }),
      );
      return c.json({ kid }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/operator/signing-keys',
      tags,
      security: callers.operator,
      summary: 'Every signing key, newest first: active, retired (still published), dropped or revoked',
      responses: answers({ 200: body(z.array(signingKeyResponse), 'The signing keys') }, [401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await ctx.keys.signingKeys(), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/operator/signing-keys/{kid}/revoke',
      tags,
      security: callers.operator,
      summary:
        'Withdraw a signing key at once (a leaked one): clients stop trusting it at their next contact; the active key is replaced first',
      request: { params: kidParam },
      responses: answers({ 200: body(keyRevokedResponse, 'The revocation') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      requireOperator(c);
      const { kid } = c.req.valid('param');
      const origin = operatorOrigin(c);
      const revoked = await ctx.keys.revoke(kid, (trx, revokedAt) =>
        audit(trx, origin, revokedAt, { team: null, action: 'signing-key.revoked', target: kid, after: { revokedAt } }),
      );
      if (!revoked) throw new DomainError('not-found', `No signing key ${kid}.`);
      return c.json(revoked, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/outbox',
      tags,
      security: callers.operator,
      summary:
        'Every e-mail the gateway wrote (R14, R19), oldest first, with sentAt once delivered over SMTP; page with ?after=<last id>&limit= and the Link rel="next" header',
      request: { query: outboxQuery },
      responses: answers({ 200: body(z.array(outboxMessageResponse), 'The e-mails') }, [400, 401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      const { to, after, limit } = c.req.valid('query');
      const { body, count, lastId } = await outboxJson(ctx, { to, after, limit });
      if (count === limit && lastId !== null) {
        c.header(
          'link',
          nextLink('/v1/outbox', [
            ['after', lastId],
            ['limit', limit],
            ['to', to || undefined],
          ]),
        );
      }
      return jsonBytes<OutboxMessage[]>(c, body);
    },
  );

  if (testClock) {
    app.openapi(
      createRoute({
        method: 'post',
        path: '/v1/test/clock',
        tags: ['test'],
        security: callers.operator,
        summary: 'Move the gateway clock (FLEXGATE_TEST_CLOCK=1 only)',
        request: jsonBody(clockBody),
        responses: answers({ 200: body(clockResponse, 'The gateway clock now') }),
      }),
      async (c) => {
        requireOperator(c);
        testClock.set(new Date(c.req.valid('json').now));
        return c.json({ now: testClock.now().toISOString() }, 200);
      },
    );
  }
  return app;
}
