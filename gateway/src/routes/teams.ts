import {
  addMemberBody,
  addMemberResponse,
  autodeskId,
  balanceResponse,
  type LedgerEntry,
  ledgerEntryResponse,
  ledgerKind,
  purchaseBody,
  purchaseResponse,
  queryInteger,
  transferBody,
  transferResponse,
} from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { jsonBytes } from '../lib/bodies';
import { originOfRequest, requireTeamAdmin } from '../middleware/auth';
import { balance, ledgerCheckpoint, ledgerJson } from '../services/balance';
import type { ServiceContext } from '../services/context';
import { addMember } from '../services/members';
import { purchase } from '../services/purchase';
import { requireTeam } from '../services/teams';
import { transfer } from '../services/transfer';
import { answers, body, callers, idempotencyHeader, jsonBody, nextLink, router, teamParam } from './openapi';

const tags = ['team admin'];
const security = callers.admin;

export function teamRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/purchases',
      tags,
      security,
      summary:
        'Add a lot of tokens valid one year (R1), optionally with its pricePerToken (minor units of FLEXGATE_CURRENCY); Idempotency-Key makes a retry safe',
      request: { params: teamParam, headers: idempotencyHeader, ...jsonBody(purchaseBody) },
      responses: answers({ 201: body(purchaseResponse, 'The new lot') }, [400, 401, 403, 404, 409]),
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
        pricePerToken: body.pricePerToken,
        actor,
        origin: originOfRequest(c, actor),
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
      security,
      summary: 'Balance and lots with expiry dates (R2, R15)',
      request: { params: teamParam },
      responses: answers({ 200: body(balanceResponse, 'The balance, its lots and the alert flags') }, [401, 403, 404]),
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
      security,
      summary: 'Ledger entries, oldest first (R5); page with ?after=<last id>&limit=; filter with ?kind= (repeatable) and ?user=',
      request: {
        params: teamParam,
        query: z.object({
          after: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
          limit: queryInteger(1, 10_000).default(1000),
          kind: z.union([ledgerKind, z.array(ledgerKind).max(6)]).optional(),
          user: autodeskId.optional(),
        }),
      },
      responses: answers({ 200: body(z.array(ledgerEntryResponse), 'A page of ledger entries') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      await requireTeam(ctx, team);
      const { after, limit, kind, user } = c.req.valid('query');
      const kinds = kind === undefined ? undefined : Array.isArray(kind) ? kind : [kind];
      const { body, count, lastId } = await ledgerJson(ctx, team, { after, limit, kinds, autodeskId: user });
      if (count === limit && lastId !== null) {
        const kindPairs = (kinds ?? []).map((k) => ['kind', k] as const);
        c.header(
          'link',
          nextLink(`/v1/teams/${team}/ledger`, [['after', lastId], ['limit', limit], ...kindPairs, ['user', user || undefined]]),
        );
      }
      return jsonBytes<LedgerEntry[]>(c, body);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/ledger/checkpoint',
      tags,
      summary:
        'A compact JWS (application/jose, typ flexgate-ledger-checkpoint+jwt) by the active signing key over {team, lastId, lastHash, count, balance, at}: the ledger as of now (R5, docs/ledger.md)',
      security,
      request: { params: teamParam },
      responses: answers(
        {
          200: {
            description: 'The checkpoint',
            content: { 'application/jose': { schema: z.string().describe('A compact JWS: header.payload.signature') } },
          },
        },
        [400, 401, 403, 404],
      ),
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
      security,
      summary:
        'Ask an existing Autodesk account ({autodeskId}) or invite a new user ({invite: "Full Name <email>"}) to join: either way a pending member with an invitation e-mail, active once that person accepts within 7 days (R11, R12, R14)',
      request: { params: teamParam, ...jsonBody(addMemberBody) },
      responses: answers({ 201: body(addMemberResponse, 'The member, and the invitation sent') }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      return c.json(await addMember(ctx, { teamId: team, ...c.req.valid('json'), by, origin: originOfRequest(c, by) }), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/transfers',
      tags,
      security,
      summary: 'Move tokens to another team the caller manages, oldest lots first, keeping their expiry (R3)',
      request: { params: teamParam, headers: idempotencyHeader, ...jsonBody(transferBody) },
      responses: answers({ 201: body(transferResponse, 'What moved, one part per source lot') }, [400, 401, 403, 404, 409]),
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
        origin: originOfRequest(c, actor),
        idempotency: key ? { scope: `transfer:${team}`, key, request: body } : undefined,
      });
      return c.json(result, 201);
    },
  );

  return app;
}
