import {
  clockBody,
  createAdminBody,
  createProductBody,
  createTeamBody,
  createUserBody,
  licenseBody,
  outboxQuery,
  productKey,
  updateProductBody,
} from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import type { AdjustableClock } from '../lib/clock';
import { operatorOrigin, requireAnyone, requireOperator } from '../middleware/auth';
import { createAccount } from '../services/accounts';
import { audit } from '../services/audit';
import { catalog, createProduct, setDailyRate } from '../services/catalog';
import type { ServiceContext } from '../services/context';
import { grantLicense } from '../services/licenses';
import { outbox } from '../services/outbox';
import { createAdmin, createTeam } from '../services/teams';
import { answers, jsonBody, router } from './openapi';

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
      summary: 'Add a product to the Flex catalog',
      request: jsonBody(createProductBody),
      responses: answers({ 201: 'the product' }, [400, 401, 403, 409]),
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
      summary: "Change a product's daily rate (R8: applies to sessions opened afterwards)",
      request: { params: z.object({ key: productKey }), ...jsonBody(updateProductBody) },
      responses: answers({ 200: 'the product' }, [400, 401, 403, 404]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await setDailyRate(ctx, c.req.valid('param').key, c.req.valid('json').dailyRate, operatorOrigin(c)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/products',
      tags: ['catalog'],
      summary: 'The Flex catalog with daily rates',
      responses: answers({ 200: 'products' }, [401]),
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
      summary: 'Create a team',
      request: jsonBody(createTeamBody),
      responses: answers({ 201: '{id, name}' }),
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
      summary: 'Create a team admin; the key is shown once',
      request: jsonBody(createAdminBody),
      responses: answers({ 201: '{id, key}' }, [400, 401, 403, 404]),
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
      summary: 'Create an Autodesk account',
      request: jsonBody(createUserBody),
      responses: answers({ 201: 'the account' }, [400, 401, 403, 409]),
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
        summary: `Record a single-user ${kind} (R9)`,
        request: jsonBody(licenseBody),
        responses: answers({ 201: `the ${kind}` }, [400, 401, 403, 404]),
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
      summary: 'Start signing with a new key; old keys stay in the JWKS until their tokens expire',
      responses: answers({ 200: '{kid}' }, [401, 403]),
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
      summary: 'Every signing key, newest first: active, retired (still published), dropped or revoked',
      responses: answers({ 200: '[{kid, status, createdAt, retiredAt, revokedAt}]' }, [401, 403]),
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
      summary:
        'Withdraw a signing key at once (a leaked one): clients stop trusting it at their next contact; the active key is replaced first',
      request: { params: kidParam },
      responses: answers({ 200: '{kid, revokedAt, activeKid, keySetVersion}' }, [400, 401, 403, 404]),
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
      summary: 'Every e-mail the gateway wrote (R14, R19), oldest first, with sentAt once delivered over SMTP',
      request: { query: outboxQuery },
      responses: answers({ 200: '[{to, subject, text, sentAt, kind}]' }, [400, 401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      const { to, limit } = c.req.valid('query');
      return c.json(await outbox(ctx, to, limit), 200);
    },
  );

  if (testClock) {
    app.openapi(
      createRoute({
        method: 'post',
        path: '/v1/test/clock',
        tags: ['test'],
        summary: 'Move the gateway clock (FLEXGATE_TEST_CLOCK=1 only)',
        request: jsonBody(clockBody),
        responses: answers({ 200: '{now}' }),
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
