import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin, postCsv } from '../harness/admin';
import { newAccount, newMember, newTeam, seedCatalog, setClock, type TestUser } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import type { Answer, Api } from '../harness/http';
import { expectStatus } from '../harness/http';

let gw: TestGateway;
let teamA: string;
let teamB: string;
let adminA: Api;
let memberB: TestUser;
let invitationB: string;

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, '2026-03-15T10:00:00Z');
  await seedCatalog(gw);
  teamA = await newTeam(gw, 100);
  teamB = await newTeam(gw, 100);
  adminA = (await newAdmin(gw, [teamA])).api;
  // B has an admin of its own: A's key must not borrow B's admin links.
  await newAdmin(gw, [teamB]);
  memberB = await newMember(gw, teamB, ['autocad']);
  const inv = expectStatus(await gw.op.post(`/v1/teams/${teamB}/members`, { invite: 'Pending B <pending.b@example.com>' }), 201);
  invitationB = inv.invitation.id;
});
afterAll(async () => gw?.close());

type Call = (api: Api, team: string) => Promise<Answer>;

/** Every team-admin route, called as an admin would; `:team` is the team under test. */
const ROUTES: Record<string, Call> = {
  'POST /v1/teams/{team}/purchases': (api, t) => api.post(`/v1/teams/${t}/purchases`, { tokens: 10 }),
  'POST /v1/teams/{team}/transfers': (api, t) => api.post(`/v1/teams/${t}/transfers`, { toTeam: teamA, tokens: 1 }),
  'GET /v1/teams/{team}/balance': (api, t) => api.get(`/v1/teams/${t}/balance`),
  'GET /v1/teams/{team}/ledger': (api, t) => api.get(`/v1/teams/${t}/ledger`),
  'GET /v1/teams/{team}/ledger/checkpoint': (api, t) => api.get(`/v1/teams/${t}/ledger/checkpoint`),
  'POST /v1/teams/{team}/members': (api, t) => api.post(`/v1/teams/${t}/members`, { invite: 'Intruder <intruder@example.com>' }),
  'GET /v1/teams/{team}/members': (api, t) => api.get(`/v1/teams/${t}/members`),
  'PUT /v1/teams/{team}/members/{autodeskId}/products': (api, t) =>
    api.put(`/v1/teams/${t}/members/${memberB.autodeskId}/products`, { allProducts: true, products: [] }),
  'PUT /v1/teams/{team}/members/{autodeskId}/guest': (api, t) =>
    api.put(`/v1/teams/${t}/members/${memberB.autodeskId}/guest`, { guest: true }),
  'DELETE /v1/teams/{team}/members/{autodeskId}': (api, t) => api.delete(`/v1/teams/${t}/members/${memberB.autodeskId}`),
  'POST /v1/teams/{team}/invitations/{id}/resend': (api, t) => api.post(`/v1/teams/${t}/invitations/${invitationB}/resend`),
  'POST /v1/teams/{team}/invitations/send': (api, t) => api.post(`/v1/teams/${t}/invitations/send`, { invitations: [invitationB] }),
  'GET /v1/teams/{team}/defaults': (api, t) => api.get(`/v1/teams/${t}/defaults`),
  'PUT /v1/teams/{team}/defaults': (api, t) => api.put(`/v1/teams/${t}/defaults`, { products: ['revit'] }),
  'POST /v1/teams/{team}/members/import': (api, t) =>
    postCsv(api, `/v1/teams/${t}/members/import`, 'name,email,products,guest\nIntruder,intruder@example.com,autocad,false\n'),
  'GET /v1/teams/{team}/usage': (api, t) => api.get(`/v1/teams/${t}/usage?by=user`),
  'GET /v1/teams/{team}/usage/summary': (api, t) => api.get(`/v1/teams/${t}/usage/summary`),
  'GET /v1/teams/{team}/forecast': (api, t) => api.get(`/v1/teams/${t}/forecast`),
  'GET /v1/teams/{team}/advice': (api, t) => api.get(`/v1/teams/${t}/advice?format=csv`),
  'GET /v1/teams/{team}/members/{autodeskId}/access': (api, t) => api.get(`/v1/teams/${t}/members/${memberB.autodeskId}/access`),
  'GET /v1/teams/{team}/audit': (api, t) => api.get(`/v1/teams/${t}/audit?format=csv`),
};

describe('scoping: an admin acts only on the teams it manages', () => {
  it('the table covers every team route of the OpenAPI document', async () => {
    const doc = expectStatus(await gw.anon.get('/openapi.json'), 200);
    const teamRoutes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/v1/teams/{team}'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(teamRoutes.sort()).toEqual(Object.keys(ROUTES).sort());
    // The import's CSV body is documented too, and so are the non-team routes.
    expect(doc.paths['/v1/teams/{team}/members/import'].post.requestBody.content).toHaveProperty('text/csv');
    expect(doc.paths['/v1/invitations/accept']).toHaveProperty('post');
    expect(doc.paths['/v1/outbox']).toHaveProperty('get');
  });

  it.each(Object.entries(ROUTES))(
    '%s: an admin of team A gets 403 on team B, and the same 403 on a team that does not exist',
    async (_name, call) => {
      const onB = await call(adminA, teamB);
      expect(onB.status).toBe(403);
      expect(onB.body).toMatchObject({ code: 'forbidden', detail: 'You do not manage this team.' });
      const onNothing = await call(adminA, 'tm_no_such_team');
      expect(onNothing.status).toBe(403);
      expect(onNothing.body.detail).toBe(onB.body.detail);
      // A signed-in user is no admin at all; no credentials at all is 401.
      expect((await call(memberB.api, teamB)).status).toBe(403);
      expect((await call(gw.anon, teamB)).status).toBe(401);
    },
  );

  it('team B is untouched by all of that', async () => {
    expect(expectStatus(await gw.op.get(`/v1/teams/${teamB}/balance`), 200).balance).toBe(100);
    const members = expectStatus(await gw.op.get(`/v1/teams/${teamB}/members`), 200);
    expect(members.map((m: any) => m.autodeskId).sort()).toEqual([memberB.autodeskId, 'pending.b@example.com'].sort());
    expect(members.find((m: any) => m.autodeskId === memberB.autodeskId)).toMatchObject({
      allProducts: false,
      products: ['autocad'],
      guest: false,
    });
    expect(expectStatus(await gw.op.get(`/v1/teams/${teamB}/defaults`), 200).products).toEqual([]);
    expect(expectStatus(await gw.op.get('/v1/outbox?to=pending.b@example.com'), 200)).toHaveLength(1);
  });

  it.each(Object.entries(ROUTES))('%s: the same admin is served on its own team', async (_name, call) => {
    const r = await call(adminA, teamA);
    // 404s here are about the member or invitation of team B named in the call, never about the
    // team; the transfer is to team A itself (400): what matters is that none of them is a 403.
    expect([200, 201, 204, 400, 404, 409]).toContain(r.status);
  });

  it("the outbox is the operator's: admins and users get 403", async () => {
    expect((await adminA.get('/v1/outbox')).status).toBe(403);
    expect((await memberB.api.get('/v1/outbox')).status).toBe(403);
    const account = await newAccount(gw);
    expect(expectStatus(await gw.op.get(`/v1/outbox?to=${account.autodeskId}`), 200)).toEqual([]);
  });
});
