/**
 * The audit trail: every admin and operator change leaves one entry (who, what, to what, before and
 * after, request id), written in the change's own transaction, and nothing can rewrite it.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@flexgate/gateway';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin, parseCsvText, uniqueEmail } from '../harness/admin';
import { testEngine } from '../harness/db';
import { acceptInvitationOf, newAccount, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, type Api, expectStatus, simultaneously } from '../harness/http';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const rid = (what: string) => `audit-${what}-${randomBytes(4).toString('hex')}`;
const withId = (id: string) => ({ 'x-request-id': id });

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

/** Every entry of a trail that answers `path` (all pages, following Link rel="next"). */
async function trail(api: Api, path: string): Promise<any[]> {
  const out: any[] = [];
  let next: string | null = path;
  while (next) {
    const page: Answer<any[]> = await api.get<any[]>(next);
    out.push(...expectStatus(page, 200));
    next = /^<([^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
  }
  return out;
}

const entryOf = async (id: string) => (await trail(gw.op, '/v1/operator/audit?limit=1000')).filter((e) => e.requestId === id);

/** A second connection to the gateway's own database, as an operator with a SQL prompt would have. */
async function withDatabase<T>(fn: (db: ReturnType<typeof connect>['db']) => Promise<T>): Promise<T> {
  const handle = connect({ url: gw.database.url });
  try {
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

describe('the audit trail: what is recorded', () => {
  it("records each team admin action with who, target, before/after and the request id, in that team's trail", async () => {
    const team = await newTeam(gw, 100);
    const other = await newTeam(gw, 0);
    const admin = await newAdmin(gw, [team, other]);
    const account = await newAccount(gw);
    const invitee = uniqueEmail('audited');
    const ids = {
      ask: rid('ask'),
      invite: rid('invite'),
      products: rid('products'),
      defaults: rid('defaults'),
      purchase: rid('purchase'),
      transfer: rid('transfer'),
      remove: rid('remove'),
      import: rid('import'),
    };
    const api = admin.api;
    expectStatus(
      await api.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['autocad'] }, withId(ids.ask)),
      201,
    );
    await acceptInvitationOf(gw, account);
    const invited = expectStatus(
      await api.post(`/v1/teams/${team}/members`, { invite: `Audie Ted <${invitee}>` }, withId(ids.invite)),
      201,
    );
    expectStatus(
      await api.put(`/v1/teams/${team}/members/${account.autodeskId}/products`, { products: ['revit', 'autocad'] }, withId(ids.products)),
      200,
    );
    expectStatus(await api.put(`/v1/teams/${team}/defaults`, { products: ['maya'] }, withId(ids.defaults)), 200);
    const lot = expectStatus(await api.post(`/v1/teams/${team}/purchases`, { tokens: 40 }, withId(ids.purchase)), 201);
    expectStatus(await api.post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 30 }, withId(ids.transfer)), 201);
    expect((await api.delete(`/v1/teams/${team}/members/${invitee}`, withId(ids.remove))).status).toBe(204);
    const csv = `name,email,products,guest\nImported Person,${uniqueEmail('imp')},autocad,false\n`;
    expectStatus(
      await api.request('POST', `/v1/teams/${team}/members/import`, csv, { 'content-type': 'text/csv', ...withId(ids.import) }),
      200,
    );

    const entries = await trail(api, `/v1/teams/${team}/audit`);
    const by = (id: string) => entries.filter((e) => e.requestId === id);
    const actor = `admin:${admin.id}`;
    for (const id of Object.values(ids)) {
      for (const e of by(id)) {
        expect(e.actor, e.action).toBe(actor);
        expect(e.team).toBe(team);
        expect(Date.parse(e.at)).toBeGreaterThanOrEqual(T0.getTime());
      }
    }
    expect(by(ids.ask)).toMatchObject([
      { action: 'member.invited', target: account.autodeskId, after: { account: 'existing', products: ['autocad'] } },
    ]);
    expect(entries.find((e) => e.action === 'invitation.accepted')).toMatchObject({
      actor: `user:${account.autodeskId}`,
      target: account.autodeskId,
    });
    expect(by(ids.invite)).toMatchObject([
      { action: 'member.invited', target: invitee, after: { name: 'Audie Ted', invitation: invited.invitation.id } },
    ]);
    expect(by(ids.products)).toMatchObject([
      {
        action: 'member.products.changed',
        target: account.autodeskId,
        before: { allProducts: false, products: ['autocad'] },
        after: { allProducts: false, products: ['autocad', 'revit'] },
      },
    ]);
    expect(by(ids.defaults)).toMatchObject([{ action: 'defaults.changed', before: { products: [] }, after: { products: ['maya'] } }]);
    expect(by(ids.purchase)).toMatchObject([{ action: 'tokens.purchased', target: lot.lotId, after: { tokens: 40 } }]);
    expect(by(ids.transfer)).toMatchObject([{ action: 'tokens.transferred', target: other, after: { from: team, to: other, tokens: 30 } }]);
    expect(by(ids.remove)).toMatchObject([{ action: 'member.removed', target: invitee, before: { name: 'Audie Ted', status: 'invited' } }]);
    expect(by(ids.import)).toMatchObject([{ action: 'members.imported', after: { created: 1, updated: 0, errors: 0 } }]);
    // The receiving team's admins see the tokens arrive, in their own trail.
    expect((await trail(api, `/v1/teams/${other}/audit`)).filter((e) => e.requestId === ids.transfer)).toMatchObject([
      { team: other, action: 'tokens.transferred', target: team },
    ]);
    // Newest first: the import was the last change.
    expect(entries[0].requestId).toBe(ids.import);
  });

  it('records operator actions without a team in the operator-wide trail, with before and after', async () => {
    const key = `audited-${randomBytes(3).toString('hex')}`;
    const account = { autodeskId: uniqueEmail('opaudit'), name: 'Op Audit', password: 'password-123' };
    const calls: [string, () => Promise<Answer>][] = [
      ['catalog.product.added', () => gw.op.post('/v1/products', { key, name: 'Audited', dailyRate: 3 }, withId(rid('p')))],
      ['catalog.rate.changed', () => gw.op.patch(`/v1/products/${key}`, { dailyRate: 4 }, withId(rid('r')))],
      ['catalog.product.changed', () => gw.op.patch(`/v1/products/${key}`, { subscriptionPricePerYear: 1200 }, withId(rid('s')))],
      ['account.created', () => gw.op.post('/v1/users', account, withId(rid('u')))],
      [
        'license.granted',
        () => gw.op.post('/v1/trials', { autodeskId: account.autodeskId, product: key, endsAt: '2026-04-01T00:00:00Z' }, withId(rid('t'))),
      ],
      ['user.revoked', () => gw.op.post(`/v1/operator/users/${account.autodeskId}/revoke`, undefined, withId(rid('v')))],
      ['signing-key.rotated', () => gw.op.post('/v1/keys/rotate', undefined, withId(rid('k')))],
    ];
    for (const [action, call] of calls) {
      const answer = await call();
      expect(answer.status, `${action}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
      const id = answer.headers.get('x-request-id') as string;
      const [entry, ...more] = await entryOf(id);
      expect(more, action).toEqual([]);
      expect(entry, action).toMatchObject({ action, actor: 'operator', team: null });
    }
    const rate = (await trail(gw.op, '/v1/operator/audit?team=none&action=catalog.rate.changed')).find((e) => e.target === key);
    expect(rate).toMatchObject({ before: { dailyRate: 3 }, after: { dailyRate: 4 } });
    // Each change's before holds what it changed, and only that.
    expect(rate.before).toEqual({ dailyRate: 3 });
    const price = (await trail(gw.op, '/v1/operator/audit?team=none&action=catalog.product.changed')).find((e) => e.target === key);
    expect(price).toMatchObject({ before: { subscriptionPricePerYear: null }, after: { subscriptionPricePerYear: 1200 } });
    expect(price.before).toEqual({ subscriptionPricePerYear: null });
    // The password is not in the trail, only what the operator may read again anyway.
    expect(JSON.stringify(await trail(gw.op, '/v1/operator/audit?team=none'))).not.toContain(account.password);
  });

  it('every mutating admin and operator route of /openapi.json writes an audit entry with its request id', async () => {
    const doc = expectStatus(await gw.anon.get('/openapi.json'), 200);
    const team = await newTeam(gw, 500);
    const other = await newTeam(gw, 0);
    const admin = await newAdmin(gw, [team, other]);
    const spare = await newAdmin(gw, [other]);
    const account = await newAccount(gw);
    const key = `route-${randomBytes(3).toString('hex')}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: `Route ${key}`, dailyRate: 2 }), 201);
    const invitee = uniqueEmail('route');
    const invited = expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Route Person <${invitee}>` }), 201);
    const kids = expectStatus(await gw.op.get('/v1/operator/signing-keys'), 200);
    const retired = kids.find((k: any) => k.status !== 'active' && k.status !== 'revoked') ?? kids[kids.length - 1];
    // One successful call per route; a route added without a line here fails this test.
    const recipes: Record<string, (headers: Record<string, string>) => Promise<Answer>> = {
      'POST /v1/products': (h) => gw.op.post('/v1/products', { key: `${key}-b`, name: 'B', dailyRate: 1 }, h),
      'PATCH /v1/products/{key}': (h) => gw.op.patch(`/v1/products/${key}`, { dailyRate: 9 }, h),
      'POST /v1/teams': (h) => gw.op.post('/v1/teams', { name: 'Routed' }, h),
      'POST /v1/admins': (h) => gw.op.post('/v1/admins', { name: 'Routed', email: 'routed@example.com', teams: [team] }, h),
      'POST /v1/users': (h) => gw.op.post('/v1/users', { autodeskId: uniqueEmail('routed'), name: 'Routed', password: 'password-123' }, h),
      'POST /v1/subscriptions': (h) =>
        gw.op.post('/v1/subscriptions', { autodeskId: account.autodeskId, product: key, endsAt: '2027-01-01T00:00:00Z' }, h),
      'POST /v1/trials': (h) =>
        gw.op.post('/v1/trials', { autodeskId: account.autodeskId, product: key, endsAt: '2027-01-01T00:00:00Z' }, h),
      'POST /v1/keys/rotate': (h) => gw.op.post('/v1/keys/rotate', undefined, h),
      'POST /v1/operator/signing-keys/{kid}/revoke': (h) => gw.op.post(`/v1/operator/signing-keys/${retired.kid}/revoke`, undefined, h),
      'POST /v1/operator/users/{autodeskId}/revoke': (h) => gw.op.post(`/v1/operator/users/${account.autodeskId}/revoke`, undefined, h),
      'POST /v1/admins/{id}/key': (h) => admin.api.post(`/v1/admins/${admin.id}/key`, undefined, h),
      'DELETE /v1/admins/{id}/key': (h) => gw.op.delete(`/v1/admins/${spare.id}/key`, h),
      'DELETE /v1/admins/{id}': (h) => gw.op.delete(`/v1/admins/${spare.id}`, h),
      'POST /v1/teams/{team}/purchases': (h) => gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 5 }, h),
      'POST /v1/teams/{team}/transfers': (h) => gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 5 }, h),
      'POST /v1/teams/{team}/members': (h) => gw.op.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId }, h),
      'PUT /v1/teams/{team}/members/{autodeskId}/products': (h) =>
        gw.op.put(`/v1/teams/${team}/members/${invitee}/products`, { products: ['autocad'] }, h),
      'PUT /v1/teams/{team}/members/{autodeskId}/guest': (h) => gw.op.put(`/v1/teams/${team}/members/${invitee}/guest`, { guest: true }, h),
      'DELETE /v1/teams/{team}/members/{autodeskId}': (h) => gw.op.delete(`/v1/teams/${team}/members/${account.autodeskId}`, h),
      'POST /v1/teams/{team}/invitations/{id}/resend': (h) =>
        gw.op.post(`/v1/teams/${team}/invitations/${invited.invitation.id}/resend`, undefined, h),
      'POST /v1/teams/{team}/invitations/send': async (h) => {
        // Someone imported, so that the send has an e-mail to send (one that sends nothing changes nothing).
        expectStatus(await postCsvWith(gw.op, `/v1/teams/${team}/members/import`, `name,email\nTo Send,${uniqueEmail('send')}\n`, {}), 200);
        return gw.op.post(`/v1/teams/${team}/invitations/send`, {}, h);
      },
      'PUT /v1/teams/{team}/defaults': (h) => gw.op.put(`/v1/teams/${team}/defaults`, { products: ['revit'] }, h),
      'POST /v1/teams/{team}/members/import': (h) =>
        postCsvWith(gw.op, `/v1/teams/${team}/members/import`, `name,email\nCsv Person,${uniqueEmail('csv')}\n`, h),
    };
    const mutating: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { tags?: string[] }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const tags = op.tags ?? [];
        if (method === 'get' || !(tags.includes('operator') || tags.includes('team admin'))) continue;
        mutating.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(mutating.length).toBeGreaterThanOrEqual(21);
    // The delete of the admin runs after the revocation of its key: the order of `recipes`.
    const order = Object.keys(recipes);
    mutating.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    for (const route of mutating) {
      const recipe = recipes[route];
      expect(recipe, `no recipe for ${route}: a new admin or operator route must write the audit trail and be listed here`).toBeDefined();
      const id = rid('route');
      const answer = await (recipe as NonNullable<typeof recipe>)(withId(id));
      expect(answer.status, `${route}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
      expect((await entryOf(id)).length, `${route} wrote no audit entry`).toBeGreaterThan(0);
    }
  });
});

function postCsvWith(api: Api, path: string, csv: string, headers: Record<string, string>) {
  return api.request('POST', path, csv, { 'content-type': 'text/csv', ...headers });
}

describe('the audit trail: integrity', () => {
  it('a refused change writes no entry, and a change whose entry cannot be written is not made (one transaction)', async () => {
    const team = await newTeam(gw, 10);
    const admin = await newAdmin(gw, [team]);
    const refused = [
      await admin.api.put(`/v1/teams/${team}/defaults`, { products: ['no-such-product'] }),
      await admin.api.post(`/v1/teams/${team}/transfers`, { toTeam: team, tokens: 5 }),
      await admin.api.delete(`/v1/teams/${team}/members/${uniqueEmail('nobody')}`),
      await gw.op.patch('/v1/products/no-such-product', { dailyRate: 3 }),
    ];
    for (const r of refused) expect(r.status).toBeGreaterThanOrEqual(400);
    expect(await entryOf(refused[0]?.headers.get('x-request-id') as string)).toEqual([]);
    const teamTrail = await trail(admin.api, `/v1/teams/${team}/audit`);
    expect(teamTrail.map((e) => e.action)).toEqual(['admin.created', 'tokens.purchased', 'team.created']);

    // The database refuses this one entry: the change it records must not be made either.
    const install =
      testEngine() === 'sqlite'
        ? [
            sql`CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_log WHEN NEW.action = 'defaults.changed' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
          ]
        : [
            sql`CREATE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.action = 'defaults.changed' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`,
            sql`CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_test_refuse()`,
          ];
    await withDatabase(async (db) => {
      for (const s of install) await s.execute(db);
    });
    try {
      const failed = await admin.api.put(`/v1/teams/${team}/defaults`, { products: ['revit'] });
      expect(failed.status).toBe(500);
      expect(expectStatus(await admin.api.get(`/v1/teams/${team}/defaults`), 200)).toMatchObject({ products: [], enabled: false });
    } finally {
      await withDatabase(async (db) => {
        await sql`DROP TRIGGER audit_test_refuse${testEngine() === 'postgres' ? sql` ON audit_log` : sql``}`.execute(db);
      });
    }
    expect(expectStatus(await admin.api.put(`/v1/teams/${team}/defaults`, { products: ['revit'] }), 200).products).toEqual(['revit']);
  });

  it('changes sent at once are recorded one after the other: each before is what the previous change left, and the result is one of them', async () => {
    const team = await newTeam(gw, 10);
    const admin = await newAdmin(gw, [team]);
    const sets = [['autocad'], ['revit'], ['maya'], ['autocad', 'maya'], ['maya', 'revit'], ['autocad', 'revit']];
    const key = `chained-${randomBytes(3).toString('hex')}`;
    expectStatus(await gw.op.post('/v1/products', { key, name: `Chained ${key}`, dailyRate: 3 }), 201);
    for (let round = 0; round < 3; round++) {
      const answers = await simultaneously([
        ...sets.map((products) => ({ api: admin.api, method: 'PUT', path: `/v1/teams/${team}/defaults`, body: { products } })),
        ...[4, 5, 6, 7, 8, 9].map((dailyRate) => ({
          api: gw.op,
          method: 'PATCH',
          path: `/v1/products/${key}`,
          body: { dailyRate: dailyRate + round * 10 },
        })),
      ]);
      for (const a of answers) expect(a.status, a.text).toBe(200);
      // R13: the defaults deleted and inserted by six requests at once are one request's set, never a union.
      const defaults = expectStatus(await admin.api.get(`/v1/teams/${team}/defaults`), 200).products;
      expect(sets.map((p) => JSON.stringify(p))).toContain(JSON.stringify(defaults));
      const chain = async (api: Api, path: string, field: (v: any) => unknown) => {
        const entries = (await trail(api, path)).slice(0, 6).reverse(); // the round's six, oldest first
        for (let i = 1; i < entries.length; i++)
          expect(field(entries[i].before), `${path}: entry ${i}`).toEqual(field(entries[i - 1].after));
        return field(entries.at(-1).after);
      };
      expect(await chain(admin.api, `/v1/teams/${team}/audit?action=defaults.changed`, (v) => v.products)).toEqual(defaults);
      const rate = await chain(gw.op, '/v1/operator/audit?action=catalog.rate.changed', (v) => v.dailyRate);
      expect(expectStatus(await gw.op.get('/v1/products'), 200).find((p: any) => p.key === key).dailyRate).toBe(rate);
    }
  });

  it('the table is append-only: a direct UPDATE or DELETE on the database fails and changes nothing', async () => {
    const before = await trail(gw.op, '/v1/operator/audit?limit=1000');
    expect(before.length).toBeGreaterThan(0);
    await withDatabase(async (db) => {
      await expect(sql`UPDATE audit_log SET actor = 'nobody'`.execute(db)).rejects.toThrow(/append-only/);
      await expect(sql`DELETE FROM audit_log`.execute(db)).rejects.toThrow(/append-only/);
      if (testEngine() === 'postgres') await expect(sql`TRUNCATE audit_log`.execute(db)).rejects.toThrow(/append-only/);
    });
    expect(await trail(gw.op, '/v1/operator/audit?limit=1000')).toEqual(before);
  });
});

describe('the audit trail: reading it', () => {
  it("another team's admin cannot read a team's trail; a team admin cannot read the operator's", async () => {
    const team = await newTeam(gw, 10);
    const stranger = await newAdmin(gw, [await newTeam(gw)]);
    const r = await stranger.api.get(`/v1/teams/${team}/audit`);
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain('tokens.purchased');
    expect((await stranger.api.get(`/v1/teams/${team}/audit?format=csv`)).status).toBe(403);
    expect((await stranger.api.get('/v1/operator/audit')).status).toBe(403);
    expect((await gw.anon.get(`/v1/teams/${team}/audit`)).status).toBe(401);

    // An admin of this team and another: this team's trail does not say which other teams it manages.
    const hidden = await newTeam(gw);
    const both = await newAdmin(gw, [team, hidden]);
    const mine = await trail(gw.op, `/v1/teams/${team}/audit?action=admin.created`);
    expect(mine.find((e) => e.target === both.id)).toMatchObject({ after: { email: both.email } });
    expect(JSON.stringify(mine)).not.toContain(hidden);
    const wide = await trail(gw.op, '/v1/operator/audit?team=none&action=admin.created');
    expect(wide.find((e) => e.target === both.id)?.after.teams).toEqual([team, hidden]);
  });

  it("an admin's key rotated or revoked shows in each of its teams' trails, naming no other team", async () => {
    const team = await newTeam(gw);
    const hidden = await newTeam(gw);
    const both = await newAdmin(gw, [team, hidden]);
    const coAdmin = await newAdmin(gw, [team]);
    expect(expectStatus(await both.api.post(`/v1/admins/${both.id}/key`, undefined, withId(rid('rot'))), 200).key).toMatch(/^fga/);
    expectStatus(await gw.op.delete(`/v1/admins/${both.id}/key`, withId(rid('rev'))), 204);
    // The other admin of the team sees whose key changed, and when.
    const seen = (await trail(coAdmin.api, `/v1/teams/${team}/audit?action=credentials.*`)).filter((e) => e.target === both.id);
    expect(seen.map((e) => e.action)).toEqual(['credentials.key.revoked', 'credentials.key.rotated']);
    expect(seen[1]).toMatchObject({ team, actor: `admin:${both.id}` });
    expect(JSON.stringify(seen)).not.toContain(hidden);
    expect((await trail(gw.op, `/v1/teams/${hidden}/audit?action=credentials.*`)).map((e) => e.action)).toEqual([
      'credentials.key.revoked',
      'credentials.key.rotated',
    ]);
    // Operator-wide, once each.
    const wide = (await trail(gw.op, '/v1/operator/audit?team=none&action=credentials.*')).filter((e) => e.target === both.id);
    expect(wide.map((e) => e.action)).toEqual(['credentials.key.revoked', 'credentials.key.rotated']);
  });

  it('pages by keyset, filters by action (or family), actor and dates, and exports CSV', async () => {
    const team = await newTeam(gw);
    const admin = await newAdmin(gw, [team]);
    for (let i = 0; i < 5; i++) expectStatus(await admin.api.post(`/v1/teams/${team}/purchases`, { tokens: 10 + i }), 201);
    // A request id is the caller's: one a spreadsheet would run as a formula comes out as text.
    const formula = `-A1-${randomBytes(3).toString('hex')}`;
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 99 }, withId(formula)), 201);
    expectStatus(await admin.api.put(`/v1/teams/${team}/defaults`, { products: ['autocad'] }), 200);

    const first = await admin.api.get(`/v1/teams/${team}/audit?limit=3`);
    expect(expectStatus(first, 200)).toHaveLength(3);
    expect(first.headers.get('link')).toMatch(/before=\d+/);
    const all = await trail(admin.api, `/v1/teams/${team}/audit?limit=3`);
    // team.created, admin.created, 6 purchases and defaults.changed, each once.
    expect(all).toHaveLength(9);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));

    const purchases = await trail(admin.api, `/v1/teams/${team}/audit?action=tokens.purchased`);
    expect(purchases.map((e) => e.after.tokens)).toEqual([99, 14, 13, 12, 11, 10]);
    // Paged, each next link keeps the filter: page two is still purchases only.
    expect(await trail(admin.api, `/v1/teams/${team}/audit?action=tokens.purchased&limit=2`)).toEqual(purchases);
    expect((await trail(admin.api, `/v1/teams/${team}/audit?action=tokens.*`)).length).toBe(6);
    // The operator's view of one team, paged: the next link keeps `team` (it once dropped it, and
    // page two held every team's entries).
    expect(await trail(gw.op, `/v1/operator/audit?team=${team}&limit=2`)).toEqual(all);
    const wide = await trail(gw.op, '/v1/operator/audit?team=none&limit=2');
    expect(wide.length).toBeGreaterThan(2);
    expect(wide.every((e) => e.team === null)).toBe(true);
    const mine = await trail(admin.api, `/v1/teams/${team}/audit?actor=${encodeURIComponent(`admin:${admin.id}`)}`);
    expect(mine.map((e) => e.action)).toEqual(['defaults.changed', ...Array(5).fill('tokens.purchased')]);
    const today = T0.toISOString().slice(0, 10);
    expect(await trail(admin.api, `/v1/teams/${team}/audit?from=${today}&to=${today}`)).toHaveLength(all.length);
    expect(await trail(admin.api, `/v1/teams/${team}/audit?to=2026-03-14`)).toEqual([]);
    // `from` alone runs to now: today's entries all, from tomorrow none.
    expect(await trail(admin.api, `/v1/teams/${team}/audit?from=${today}`)).toHaveLength(all.length);
    const tomorrow = new Date(T0.getTime() + 86_400_000).toISOString().slice(0, 10);
    expect(await trail(admin.api, `/v1/teams/${team}/audit?from=${tomorrow}`)).toEqual([]);
    // A page that holds the last entry exactly points to no next page.
    const whole = await admin.api.get(`/v1/teams/${team}/audit?limit=${all.length}`);
    expect([expectStatus(whole, 200).length, whole.headers.get('link')]).toEqual([all.length, null]);
    expect((await admin.api.get(`/v1/teams/${team}/audit?action=DROP%20TABLE`)).status).toBe(400);
    expect((await admin.api.get(`/v1/teams/${team}/audit?from=2026-02-30`)).status).toBe(400);
    // Backwards, refused as a usage report's range is (it answered an empty page), the CSV before it starts.
    for (const csv of ['', '&format=csv']) {
      const backwards = await admin.api.get(`/v1/teams/${team}/audit?from=2026-03-17&to=2026-03-01${csv}`);
      expect([backwards.status, backwards.body.detail]).toEqual([
        400,
        'The range is empty: from 2026-03-17 is after its last day, 2026-03-01.',
      ]);
    }

    const csv = await admin.api.get(`/v1/teams/${team}/audit?format=csv&action=tokens.purchased`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="audit-/);
    const rows = parseCsvText(csv.body as string);
    expect(rows[0]).toEqual(['At', 'Team', 'Actor', 'Action', 'Target', 'Before', 'After', 'Request id']);
    expect(rows.slice(1).map((r) => r[3])).toEqual(Array(6).fill('tokens.purchased'));
    expect(JSON.parse(rows[1]?.[6] as string)).toMatchObject({ tokens: 99 });
    // A purchase has no before: an empty cell, not "null".
    expect(rows[1]?.[5]).toBe('');
    expect(rows[1]?.[7]).toBe(`'${formula}`);
    // Asked for by its media type, without ?format, the same file.
    const byAccept = await admin.api.get(`/v1/teams/${team}/audit?action=tokens.purchased`, { accept: 'text/csv' });
    expect(byAccept.headers.get('content-type')).toContain('text/csv');
    expect(byAccept.body).toBe(csv.body);
  });
});
