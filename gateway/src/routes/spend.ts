import { adviceQuery, adviceResponse, forecastResponse, myUsageQuery, myUsageResponse } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { csvDownload, wantsCsv } from '../lib/csv-download';
import { requireTeamAdmin, requireUser } from '../middleware/auth';
import { advice, adviceCsv } from '../services/advice';
import type { ServiceContext } from '../services/context';
import { forecastReport } from '../services/forecast';
import { myUsage } from '../services/my-usage';
import { answers, body, callers, router, teamParam } from './openapi';

/** Spend: the forecast of a team's tokens, right-sizing advice, and a user's own usage. */
export function spendRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/forecast',
      tags: ['team admin'],
      security: callers.admin,
      summary:
        'At the burn of the last 28 whole days: the day the balance runs out, the tokens of each lot that will expire unused (atRisk, R2), and the projected balance over the coming year',
      request: { params: teamParam },
      responses: answers({ 200: body(forecastResponse, 'The forecast at the recent burn') }, [401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      return c.json(await forecastReport(ctx, team), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/advice',
      tags: ['team admin'],
      security: callers.admin,
      summary:
        "Last year's Flex cost per user and product against a single-user subscription's price, and subscribers whose days of use would have cost less through Flex; Accept: text/csv or format=csv gives a CSV",
      request: { params: teamParam, query: adviceQuery },
      responses: answers(
        {
          200: {
            description: 'The advice as JSON, or as CSV',
            content: {
              'application/json': { schema: adviceResponse },
              'text/csv': { schema: z.string().describe('One row per user and product where a subscription or Flex would have cost less') },
            },
          },
        },
        [400, 401, 403, 404],
      ),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      const { format } = c.req.valid('query');
      if (!wantsCsv(c, format)) return c.json(await advice(ctx, team), 200);
      const { filename, csv } = await adviceCsv(ctx, team);
      return csvDownload(c, csv, filename);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/usage',
      tags: ['user'],
      security: callers.user,
      summary: "The signed-in user's own Flex use by day, product and team over [from, to] (as the team usage report: R15)",
      request: { query: myUsageQuery },
      responses: answers({ 200: body(myUsageResponse, "The user's own usage") }, [400, 401, 403]),
    }),
    async (c) => c.json(await myUsage(ctx, requireUser(c), c.req.valid('query')), 200),
  );

  return app;
}
