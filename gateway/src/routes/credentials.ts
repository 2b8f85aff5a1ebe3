import { adminKeyResponse, adminSelfResponse, autodeskId, refreshBody, tokensResponse, userRevokedResponse } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import {
  operatorOrigin,
  originOfRequest,
  requireAdminSelf,
  requireOperator,
  requireOperatorOrAdmin,
  requireSignedIn,
} from '../middleware/auth';
import type { ServiceContext } from '../services/context';
import { removeAdmin, revokeAdminKey, rotateAdminKey } from '../services/teams';
import { refresh, revokeFamily, revokeUser } from '../services/tokens';
import { answers, body, callers, jsonBody, router } from './openapi';

const adminParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/),
});

/** Staying signed in, and withdrawing credentials: refresh, sign-out, revocation, admin keys. */
export function credentialRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/token/refresh',
      tags: ['user'],
      summary: 'A new access token and refresh token for a refresh token (single-use: reusing one ends its sign-in everywhere)',
      request: jsonBody(refreshBody),
      responses: answers({ 200: body(tokensResponse, 'A new access token and refresh token') }, [400, 401, 409]),
    }),
    async (c) => c.json(await refresh(ctx, c.req.valid('json').refreshToken), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/signout',
      tags: ['user'],
      security: callers.user,
      summary: "Ends the caller's sign-in: its refresh token and access tokens stop working on every instance within seconds",
      responses: answers({ 204: 'signed out' }, [401, 403]),
    }),
    async (c) => {
      const { family } = requireSignedIn(c);
      if (family !== undefined) await revokeFamily(ctx, family);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/operator/users/{autodeskId}/revoke',
      tags: ['operator'],
      security: callers.operator,
      summary: 'Ends every sign-in of a user (every token issued until now), on every instance within seconds',
      request: { params: z.object({ autodeskId }) },
      responses: answers({ 200: body(userRevokedResponse, 'When the sign-ins ended') }, [400, 401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      return c.json(await revokeUser(ctx, c.req.valid('param').autodeskId, operatorOrigin(c)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admins/me',
      tags: ['team admin'],
      security: [{ adminKey: [] }],
      summary: 'The admin whose key this is: its id (for rotating or revoking that key), name, e-mail and teams',
      responses: answers({ 200: body(adminSelfResponse, 'The admin') }, [401, 403]),
    }),
    async (c) => c.json(requireAdminSelf(c), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admins/{id}/key',
      tags: ['operator'],
      security: [...callers.operator, { adminKey: [] }],
      summary:
        "Rotates an admin's key (the operator, or the admin itself): the new key is shown once; the old one and its console sessions stop at once",
      request: { params: adminParam },
      responses: answers({ 200: body(adminKeyResponse, 'The new key, shown once') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const by = requireOperatorOrAdmin(c, id);
      return c.json(await rotateAdminKey(ctx, id, originOfRequest(c, by)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/admins/{id}/key',
      tags: ['operator'],
      security: [...callers.operator, { adminKey: [] }],
      summary: "Revokes an admin's key (the operator, or the admin itself); the admin keeps its teams until given a new key",
      request: { params: adminParam },
      responses: answers({ 204: 'revoked' }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const by = requireOperatorOrAdmin(c, id);
      await revokeAdminKey(ctx, id, originOfRequest(c, by));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/admins/{id}',
      tags: ['operator'],
      security: callers.operator,
      summary: 'Removes an admin: its key and console sessions stop at once',
      request: { params: adminParam },
      responses: answers({ 204: 'removed' }, [400, 401, 403, 404]),
    }),
    async (c) => {
      requireOperator(c);
      await removeAdmin(ctx, c.req.valid('param').id, operatorOrigin(c));
      return c.body(null, 204);
    },
  );

  return app;
}
