import {
  acceptInvitationBody,
  accessResponse,
  autodeskId,
  defaultsBody,
  defaultsResponse,
  importResponse,
  invitationAcceptedResponse,
  invitationId,
  invitationResponse,
  invitationsSentResponse,
  memberGuestBody,
  memberParam,
  memberProductsBody,
  memberResponse,
  memberSearch,
  queryInteger,
  sendInvitationsBody,
} from '@flexgate/shared';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import { originOfRequest, requireTeamAdmin } from '../middleware/auth';
import type { ServiceContext } from '../services/context';
import { getDefaults, setDefaults } from '../services/defaults';
import { explainAccess } from '../services/explain';
import { importMembers } from '../services/import';
import { acceptInvitation, resendInvitation } from '../services/invitations';
import { MEMBERS_PAGE_DEFAULT, MEMBERS_PAGE_MAX, removeMember, setMemberGuest, setMemberProducts, teamMembers } from '../services/members';
import { sendInvitations } from '../services/send-invitations';
import { answers, body, callers, idempotencyHeader, jsonBody, nextLink, router, teamParam } from './openapi';

const tags = ['team admin'];
const security = callers.admin;
const invitationParam = teamParam.extend({ id: invitationId });

/** Members, invitations, product access, defaults, import and explain (R11-R14, R18). */
export function memberRoutes(ctx: ServiceContext) {
  const app = router();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/members',
      tags,
      security,
      summary:
        'Members with status active, invited or expired (R11) and their own product selection (R12), in Autodesk ID order; page with ?after=<last autodeskId>&limit= and the Link rel="next" header; ?q= keeps those whose name or Autodesk ID contains it, in any case',
      request: {
        params: teamParam,
        query: z.object({
          after: autodeskId.optional(),
          limit: queryInteger(1, MEMBERS_PAGE_MAX).default(MEMBERS_PAGE_DEFAULT),
          q: memberSearch.optional(),
        }),
      },
      responses: answers({ 200: body(z.array(memberResponse), 'A page of members') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      const { after, limit, q } = c.req.valid('query');
      const page = await teamMembers(ctx, team, { after, limit, q });
      if (page.next !== null) {
        c.header(
          'link',
          nextLink(`/v1/teams/${team}/members`, [
            ['after', page.next],
            ['limit', limit],
            ['q', q],
          ]),
        );
      }
      return c.json(page.members, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/teams/{team}/members/{autodeskId}/products',
      tags,
      security,
      summary: 'Set a member\'s Flex products, or "all products" (R12); the member gets an e-mail (R14)',
      request: { params: memberParam, ...jsonBody(memberProductsBody) },
      responses: answers({ 200: body(memberResponse, 'The member') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team, autodeskId } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      const body = c.req.valid('json');
      return c.json(
        await setMemberProducts(ctx, {
          teamId: team,
          autodeskId,
          allProducts: body.allProducts,
          products: body.products,
          origin: originOfRequest(c, by),
        }),
        200,
      );
    },
  );

  // Its own resource beside `.../products`, not a PATCH of the member: each is one access fact
  // replaced whole by an idempotent PUT, through the same change path (services/members.ts).
  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/teams/{team}/members/{autodeskId}/guest',
      tags,
      security,
      summary:
        "Make a member a guest (no default products) or a regular member (the team's defaults apply) (R13); the member gets an e-mail when the products they may use change (R14); the same value again changes nothing",
      request: { params: memberParam, ...jsonBody(memberGuestBody) },
      responses: answers({ 200: body(memberResponse, 'The member') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team, autodeskId } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      const { guest } = c.req.valid('json');
      return c.json(await setMemberGuest(ctx, { teamId: team, autodeskId, guest, origin: originOfRequest(c, by) }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/teams/{team}/members/{autodeskId}',
      tags,
      security,
      summary: 'Remove a member; a pending invitation token dies with it',
      request: { params: memberParam },
      responses: answers({ 204: 'removed' }, [401, 403, 404]),
    }),
    async (c) => {
      const { team, autodeskId } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      await removeMember(ctx, team, autodeskId, originOfRequest(c, by));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/invitations/{id}/resend',
      tags,
      security,
      summary: 'Send the invitation again: a new token, a new 7 days; earlier tokens stop working (R11)',
      request: { params: invitationParam },
      responses: answers({ 200: body(invitationResponse, 'The new invitation') }, [401, 403, 404, 409]),
    }),
    async (c) => {
      const { team, id } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      return c.json(await resendInvitation(ctx, team, id, by, originOfRequest(c, by)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/invitations/send',
      tags,
      security,
      summary:
        'E-mail the invitations never e-mailed (an import sends none, R14): each a new token and 7 days, as a resend; within the hourly limits per admin key and per team and 3 e-mails a day per address, the rest left for a later call (R11)',
      request: {
        params: teamParam,
        headers: idempotencyHeader,
        body: {
          content: { 'application/json': { schema: sendInvitationsBody } },
          required: false,
          description:
            'Optional: `{}` (or no body) sends every invitation of the team never e-mailed; `invitations` only those of these ids',
        },
      },
      responses: answers({ 200: body(invitationsSentResponse, 'How many were sent, how many wait and why') }, [400, 401, 403, 404, 409]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      const request = c.req.valid('json') ?? {};
      const key = c.req.valid('header')['idempotency-key'];
      return c.json(
        await sendInvitations(ctx, {
          teamId: team,
          invitations: request.invitations,
          by,
          origin: originOfRequest(c, by),
          idempotency: key ? { scope: `invitations-send:${team}`, key, request } : undefined,
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/defaults',
      tags,
      security,
      summary: 'Default products of every non-guest member (R13)',
      request: { params: teamParam },
      responses: answers({ 200: body(defaultsResponse, 'The default products') }, [401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      requireTeamAdmin(c, team);
      return c.json(await getDefaults(ctx, team), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/teams/{team}/defaults',
      tags,
      security,
      summary: 'Set the default products (R13); an empty list turns defaults off; no e-mail (R14)',
      request: { params: teamParam, ...jsonBody(defaultsBody) },
      responses: answers({ 200: body(defaultsResponse, 'The default products') }, [400, 401, 403, 404]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      return c.json(await setDefaults(ctx, team, c.req.valid('json').products, originOfRequest(c, by)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{team}/members/import',
      tags,
      security,
      summary:
        'Import members from CSV: header name,email,products,guest; products separated by ";" ("*" = all products); up to 10,000 rows; each row applied whole or reported in errors; no e-mail (R14)',
      request: {
        params: teamParam,
        body: {
          required: true,
          description:
            'UTF-8 CSV (a BOM, CRLF, quoted fields and blank lines are fine); `line` in errors counts file lines, the header being line 1',
          content: {
            'text/csv': {
              schema: z.string().openapi({ example: 'name,email,products,guest\nJohn Doe,john.doe@example.com,autocad;revit,false\n' }),
            },
          },
        },
      },
      responses: answers({ 200: body(importResponse, 'What was imported, and the lines refused') }, [400, 401, 403, 404, 413, 415]),
    }),
    async (c) => {
      const { team } = c.req.valid('param');
      const by = requireTeamAdmin(c, team);
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'text/csv' && type !== 'text/plain' && type !== 'application/csv') {
        throw new DomainError('unsupported-media-type', 'Send the file as "Content-Type: text/csv".');
      }
      return c.json(await importMembers(ctx, team, await c.req.text(), originOfRequest(c, by)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{team}/members/{autodeskId}/access',
      tags,
      security,
      summary: 'Explain, for every catalog product, whether this member may launch it and why (R18)',
      request: { params: memberParam },
      responses: answers({ 200: body(z.array(accessResponse), 'One answer per product of the catalog') }, [401, 403, 404]),
    }),
    async (c) => {
      const { team, autodeskId } = c.req.valid('param');
      requireTeamAdmin(c, team);
      return c.json(await explainAccess(ctx, team, autodeskId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/invitations/accept',
      tags: ['user'],
      summary: "Accept an invitation with the token from its e-mail: creates the account, or checks the existing one's password (R11)",
      request: jsonBody(acceptInvitationBody),
      responses: answers({ 200: body(invitationAcceptedResponse, 'The membership, now active') }, [400, 401, 404, 409, 429, 503]),
    }),
    async (c) => c.json(await acceptInvitation(ctx, c.req.valid('json'), c.get('requestId') ?? null), 200),
  );

  return app;
}
