import { offlineAllowanceBody, offlineAllowanceResponse } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { requireUser } from '../middleware/auth';
import { issueAllowance } from '../services/allowance';
import type { ServiceContext } from '../services/context';
import { answers, body, callers, jsonBody, router } from './openapi';

export function offlineRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/offline-allowance',
      tags: ['user'],
      security: callers.user,
      summary: 'A signed allowance for provisional launches while the gateway cannot be reached: products, until when, how many',
      request: jsonBody(offlineAllowanceBody),
      responses: answers({ 201: body(offlineAllowanceResponse, 'The signed allowance and what it says') }, [400, 401, 403]),
    }),
    async (c) => {
      const autodeskId = requireUser(c);
      return c.json(await issueAllowance(ctx, autodeskId, c.req.valid('json').machine), 201);
    },
  );

  return app;
}
