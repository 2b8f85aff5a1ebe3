import { usageQuery, usageResponse, usageSummaryResponse } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { csvDownload, wantsCsv } from '../lib/csv-download';
import { requireTeamAdmin } from '../middleware/auth';
import type { ServiceContext } from '../services/context';
import { usage, usageCsvExport, usageSummary } from '../services/usage';
import { answers, body, callers, router, teamParam } from './openapi';

const tags = ['team admin'];
const security = callers.admin;

/** R15: usage reports, JSON or CSV with Flex's export columns, and the dashboard summary. */
export function reportRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/usage',
      tags,
      security,
      summary:
        "Tokens consumed (charges net of refunds) by user, product or day over [from, to] (R15); Accept: text/csv or format=csv gives Flex's export (Day used, Email, First name, Last name, Product, Team, Tokens used)",
      request: { params: teamParam, query: usageQuery },
      responses: answers(
        {
          200: {
            description: "The report as JSON, or as CSV with the columns of Flex's export",
            content: {
              'application/json': { schema: usageResponse },
              'text/csv': { schema: z.string().describe('Day used,Email,First name,Last name,Product,Team,Tokens used') },
            },
          },
        },
        [400, 401, 403, 404],
      ),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      const q = c.req.valid('query');
      if (!wantsCsv(c, q.format)) return c.json(await usage(ctx, team, q), 200);
      const { filename, csv } = await usageCsvExport(ctx, team, q);
      return csvDownload(c, csv, filename);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/usage/summary',
      tags,
      security,
      summary: 'Tokens available, used and bought (valid lots), token events of the last 90 days, and tokens per day (R15)',
      request: { params: teamParam },
      responses: answers({ 200: body(usageSummaryResponse, 'The dashboard figures') }, [401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      return c.json(await usageSummary(ctx, team), 200);
    },
  );

  return app;
}
