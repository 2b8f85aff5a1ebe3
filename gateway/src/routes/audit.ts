import { auditEntryResponse, auditQuery } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { csvDownload, wantsCsv } from '../lib/csv-download';
import { requireOperator, requireTeamAdmin } from '../middleware/auth';
import type { AppEnv } from '../middleware/env';
import { auditCsvExport, auditTrail } from '../services/audit';
import type { ServiceContext } from '../services/context';
import { requireTeam } from '../services/teams';
import { answers, callers, nextLink, router, teamParam } from './openapi';

/** The trail as JSON (newest first; a full page carries Link rel=next), or as CSV. */
const trail = {
  200: {
    description: 'Audit entries, newest first, or the same as CSV',
    content: {
      'application/json': { schema: z.array(auditEntryResponse) },
      'text/csv': { schema: z.string().describe('At,Team,Actor,Action,Target,Before,After,Request id') },
    },
  },
};

const summary =
  'The audit trail, newest first: who (operator, admin:<id>, console:<id>, user:<Autodesk ID>) did what (a dotted action), to what, before and after, in which request; filters action (member.invited, or member.* for a family), actor, from/to (a day or an instant; to as a day is included); page with ?before=<last id>&limit= and the Link rel="next" header; Accept: text/csv or format=csv gives every entry that matches';

/** The audit trail: a team's for its admins, the whole trail (or only the operator-wide part) for the operator. */
export function auditRoutes(ctx: ServiceContext) {
  const app = router();

  /** `scope`: the route's own query parameters beyond the filter (the operator's `team`), kept in the next link too. */
  const answer = async (
    c: Context<AppEnv>,
    team: string | null | undefined,
    base: string,
    q: ReturnType<typeof auditQuery.parse>,
    scope: [string, string][] = [],
  ) => {
    const { format, ...filter } = q;
    if (wantsCsv(c, format)) {
      const { before: _b, limit: _l, ...all } = filter;
      const name = team ? `audit-${team}` : 'audit';
      return csvDownload(c, await auditCsvExport(ctx, team, all), `${name}-${ctx.clock.now().toISOString().slice(0, 10)}.csv`);
    }
    const page = await auditTrail(ctx, team, filter);
    if (page.next !== null) {
      const kept = Object.entries(filter).filter(([k]) => k !== 'before') as [string, string | number | undefined][];
      c.header('link', nextLink(base, [...scope, ...kept, ['before', page.next]]));
    }
    return c.json(page.entries, 200);
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/audit',
      tags: ['team admin'],
      security: callers.admin,
      summary,
      request: { params: teamParam, query: auditQuery },
      responses: answers(trail, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      await requireTeam(ctx, team);
      return answer(c, team, `/v1/teams/${team}/audit`, c.req.valid('query'));
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/operator/audit',
      tags: ['operator'],
      security: callers.operator,
      summary: `${summary}; every team's entries and the operator-wide ones, or only one team's (team=<id>) or only the operator-wide ones (team=none)`,
      request: {
        query: auditQuery.extend({
          team: teamParam.shape.team.optional(),
        }),
      },
      responses: answers(trail, [400, 401, 403]),
    }),
    async (c) => {
      requireOperator(c);
      const { team, ...q } = c.req.valid('query');
      const scope: [string, string][] = team === undefined ? [] : [['team', team]];
      return answer(c, team === undefined ? undefined : team === 'none' ? null : team, '/v1/operator/audit', q, scope);
    },
  );

  return app;
}
