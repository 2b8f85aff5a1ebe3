import { addMemberBody, purchaseBody, transferBody } from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { requireTeamAdmin } from '../middleware/auth';
import { balance, ledger, ledgerCheckpoint } from '../services/balance';
import type { ServiceContext } from '../services/context';
import { addMember } from '../services/members';
import { purchase } from '../services/purchase';
import { requireTeam } from '../services/teams';
import { transfer } from '../services/transfer';
import { answers, idempotencyHeader, jsonBody, router, teamParam } from './openapi';

const tags = ['team admin'];

export function teamRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/purchases',
      tags,
      summary: 'Add a lot of tokens valid one year (R1); Idempotency-Key makes a retry safe',
      request: { params: teamParam, headers: idempotencyHeader, ...jsonBody(purchaseBody) },
      responses: answers({ 201: '{lotId, tokens, purchasedAt, expiresAt}' }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const actor = requireTeamAdmin(c, team);
      const body = c.req.valid('json');
      const key = c.req.valid('header')['idempotency-key'];
      const result = await purchase(ctx, {
        teamId: team,
        tokens: body.tokens,
        purchasedAt: body.purchasedAt,
        actor,
        idempotency: key ? { scope: `purchase:${team}`, key, request: body } : undefined,
      });
      return c.json(result, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/balance',
      tags,
      summary: 'Balance and lots with expiry dates (R2, R15)',
      request: { params: teamParam },
      responses: answers({ 200: '{balance, lots}' }, [401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      await requireTeam(ctx, team);
      return c.json(await balance(ctx, team), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/ledger',
      tags,
      summary: 'Ledger entries, oldest first (R5); page with ?after=<last id>&limit=',
      request: {
        params: teamParam,
        query: z.object({
          after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        }),
      },
      responses: answers({ 200: 'entries' }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      await requireTeam(ctx, team);
      const { after, limit } = c.req.valid('query');
      const entries = await ledger(ctx, team, after, limit);
      const last = entries.at(-1);
      if (entries.length === limit && last) {
        c.header('link', `</v1/teams/${team}/ledger?after=${last.id}&limit=${limit}>; rel="next"`);
      }
      return c.json(entries, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/ledger/checkpoint',
      tags,
      summary:
        'A compact JWS (application/jose, typ flexgate-ledger-checkpoint+jwt) by the active signing key over {team, lastId, lastHash, count, balance, at}: the ledger as of now (R5, docs/ledger.md)',
      request: { params: teamParam },
      responses: answers({ 200: 'compact JWS' }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      await requireTeam(ctx, team);
      return c.body(await ledgerCheckpoint(ctx, team), 200, { 'content-type': 'application/jose', 'cache-control': 'no-store' });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/members',
      tags,
      summary:
        'Add an existing Autodesk account ({autodeskId}, active at once) or invite a new user ({invite: "Full Name <email>"}, 7 days to accept) (R11, R12, R14)',
      request: { params: teamParam, ...jsonBody(addMemberBody) },
      responses: answers({ 201: '{member, invitation?: {id, expiresAt}}' }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      return c.json(await addMember(ctx, { teamId: team, ...c.req.valid('json'), by }), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/transfers',
      tags,
      summary: 'Move tokens to another team the caller manages, oldest lots first, keeping their expiry (R3)',
      request: { params: teamParam, headers: idempotencyHeader, ...jsonBody(transferBody) },
      responses: answers({ 201: '{from, to, tokens, lots: [{fromLot, toLot, tokens, expiresAt}]}' }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const body = c.req.valid('json');
      // R3: the admin must manage both teams; the same 403 whether or not the other team exists.
      const actor = requireTeamAdmin(c, team);
      requireTeamAdmin(c, body.toTeam);
      const key = c.req.valid('header')['idempotency-key'];
      const result = await transfer(ctx, {
        fromTeam: team,
        toTeam: body.toTeam,
        tokens: body.tokens,
        actor,
        idempotency: key ? { scope: `transfer:${team}`, key, request: body } : undefined,
      });
      return c.json(result, 201);
    },
  );

  return app;
}
