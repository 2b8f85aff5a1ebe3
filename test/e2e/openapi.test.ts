/**
 * The OpenAPI document (/openapi.json) as a client generator would read it: valid for an independent
 * validator, every route of the app in it, a response schema on every success answer with a body,
 * the security scheme on every operation that takes a credential, and real answers that fit.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin, uniqueEmail } from '../harness/admin';
import { acceptInvitationOf, buy, newAccount, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, expectStatus } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');

type Schema = Record<string, unknown>;
interface Operation {
  tags?: string[];
  security?: Record<string, string[]>[];
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };

let gw: TestGateway;
let doc: Doc;

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
  doc = expectStatus(await gw.anon.get('/openapi.json'), 200);
});
afterAll(async () => gw?.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method, path, op })));

/** The schema of one documented answer, every object closed: a field the document does not name is a drift. */
function answerSchema(method: string, path: string, status: number, type = 'application/json'): Schema {
  const schema = doc.paths[path]?.[method]?.responses[String(status)]?.content?.[type]?.schema;
  if (!schema) throw new Error(`no ${type} schema for ${method.toUpperCase()} ${path} ${status}`);
  const close = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(close);
    if (!s || typeof s !== 'object') return s;
    const out: Schema = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, close(v)]));
    if (out.type === 'object' && out.properties && !('additionalProperties' in out)) out.additionalProperties = false;
    return out;
  };
  return close(schema) as Schema;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
function expectFits(a: Answer, method: string, path: string): void {
  const validate = ajv.compile(answerSchema(method, path, a.status));
  const ok = validate(a.body);
  expect(ok, `${method.toUpperCase()} ${path} ${a.status}: ${ajv.errorsText(validate.errors)}\n${a.text.slice(0, 400)}`).toBe(true);
}

describe('OpenAPI document', () => {
  // The answers first: a keep-alive connection left idle while the validator works (seconds on a
  // loaded machine) may be closed by the server just as the next request goes out (ECONNRESET).
  it('real answers of the admin, user, operator and public routes fit their schemas', async () => {
    const team = await newTeam(gw, 500);
    const other = await newTeam(gw);
    const admin = await newAdmin(gw, [team, other]);
    const account = await newAccount(gw, 'fit');
    const fits = async (method: string, path: string, a: Answer, status: number) => {
      expectStatus(a, status);
      expectFits(a, method, path);
    };
    const t = `/v1/teams/${team}`;
    await fits('post', '/v1/teams/{team}/purchases', await admin.api.post(`${t}/purchases`, { tokens: 100 }), 201);
    await fits('post', '/v1/teams/{team}/transfers', await admin.api.post(`${t}/transfers`, { toTeam: other, tokens: 30 }), 201);
    await fits('get', '/v1/teams/{team}/balance', await admin.api.get(`${t}/balance`), 200);
    await fits(
      'post',
      '/v1/teams/{team}/members',
      await admin.api.post(`${t}/members`, { autodeskId: account.autodeskId, allProducts: true }),
      201,
    );
    await acceptInvitationOf(gw, account);
    await fits(
      'post',
      '/v1/teams/{team}/members',
      await admin.api.post(`${t}/members`, { invite: `Ivy Invitee <${uniqueEmail()}>`, products: ['autocad'] }),
      201,
    );
    expectStatus(
      await admin.api.request('POST', `${t}/members/import`, `name,email\nImported One,${uniqueEmail()}\n`, { 'content-type': 'text/csv' }),
      200,
    );
    await fits('get', '/v1/teams/{team}/members', await admin.api.get(`${t}/members`), 200);
    await fits('post', '/v1/teams/{team}/invitations/send', await admin.api.post(`${t}/invitations/send`, {}), 200);
    await fits('get', '/v1/teams/{team}/members', await admin.api.get(`${t}/members`), 200);
    await fits('put', '/v1/teams/{team}/defaults', await admin.api.put(`${t}/defaults`, { products: ['maya'] }), 200);
    await fits('get', '/v1/teams/{team}/defaults', await admin.api.get(`${t}/defaults`), 200);
    const member = encodeURIComponent(account.autodeskId);
    await fits('get', '/v1/teams/{team}/members/{autodeskId}/access', await admin.api.get(`${t}/members/${member}/access`), 200);

    const user = await signIn(gw, account);
    await fits('post', '/v1/launch', await user.api.post('/v1/launch', { product: 'revit', team, dryRun: true }), 200);
    const launch = await user.api.post('/v1/launch', { product: 'revit', team, machine: 'm1' });
    await fits('post', '/v1/launch', launch, 200);
    const session = launch.body.session.id as string;
    await fits('post', '/v1/sessions/{id}/heartbeat', await user.api.post(`/v1/sessions/${session}/heartbeat`, { machine: 'm1' }), 200);
    await fits('get', '/v1/me/products', await user.api.get('/v1/me/products'), 200);
    await fits('post', '/v1/sessions/{id}/end', await user.api.post(`/v1/sessions/${session}/end`, { machine: 'm1' }), 200);
    await fits('post', '/v1/signin', await gw.anon.post('/v1/signin', { autodeskId: account.autodeskId, password: account.password }), 200);

    await fits('get', '/v1/teams/{team}/ledger', await admin.api.get(`${t}/ledger?kind=charge&kind=refund`), 200);
    await fits('get', '/v1/teams/{team}/usage', await admin.api.get(`${t}/usage?by=product`), 200);
    await fits('get', '/v1/teams/{team}/usage/summary', await admin.api.get(`${t}/usage/summary`), 200);
    await fits('get', '/v1/products', await gw.op.get('/v1/products'), 200);
    await fits('get', '/v1/operator/signing-keys', await gw.op.get('/v1/operator/signing-keys'), 200);
    await fits('get', '/v1/outbox', await gw.op.get('/v1/outbox?limit=5'), 200);
    await fits('post', '/v1/admins/{id}/key', await gw.op.post(`/v1/admins/${admin.id}/key`), 200);
    await fits('post', '/v1/test/clock', await gw.op.post('/v1/test/clock', { now: T0.toISOString() }), 200);
    await fits('get', '/healthz', await gw.anon.get('/healthz'), 200);
    await fits('get', '/.well-known/jwks.json', await gw.anon.get('/.well-known/jwks.json'), 200);
    await fits('get', '/.well-known/flexgate-root.json', await gw.anon.get('/.well-known/flexgate-root.json'), 200);
    await fits('get', '/', await gw.anon.get('/'), 200);
  });

  it('a documented refusal is problem+json of the documented shape', async () => {
    const team = await newTeam(gw);
    await buy(gw, team, 5);
    const refused = await gw.anon.get(`/v1/teams/${team}/balance`);
    expect(refused.status).toBe(401);
    const schema = answerSchema('get', '/v1/teams/{team}/balance', 401, 'application/problem+json');
    const validate = ajv.compile(schema);
    expect(validate(refused.body), ajv.errorsText(validate.errors)).toBe(true);
  });

  it('is valid OpenAPI 3.1 for @apidevtools/swagger-parser', async () => {
    const api = (await SwaggerParser.validate(structuredClone(doc) as never)) as { openapi: string };
    expect(api.openapi).toBe('3.1.0');
  });

  it('documents every route the gateway answers, the public ones included (console pages aside)', () => {
    const documented = new Set(operations().map((o) => `${o.method.toUpperCase()} ${o.path}`));
    const routes = gw.running.routes
      .filter((r) => !r.path.startsWith('/console'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
    for (const path of [
      '/healthz',
      '/metrics',
      '/.well-known/jwks.json',
      '/.well-known/flexgate-keys',
      '/.well-known/flexgate-root.json',
    ]) {
      expect(doc.paths[path]?.get, path).toBeDefined();
    }
  });

  it('gives every success answer with a body a schema (a 204 has none)', () => {
    const missing: string[] = [];
    let schemas = 0;
    for (const { method, path, op } of operations()) {
      for (const [status, answer] of Object.entries(op.responses)) {
        if (!/^2\d\d$/.test(status) || status === '204') continue;
        const types = Object.entries(answer.content ?? {});
        if (types.length === 0 || types.some(([, c]) => !c.schema)) missing.push(`${method.toUpperCase()} ${path} ${status}`);
        schemas += types.length;
      }
    }
    expect(missing).toEqual([]);
    expect(schemas).toBeGreaterThan(40);
  });

  it('names the credential of every operation that refuses a caller without one (401), and none on public ones', () => {
    const schemes = Object.keys(doc.components.securitySchemes).sort();
    expect(schemes).toEqual(['adminKey', 'bearer', 'metricsToken', 'operatorKey']);
    const unsecured: string[] = [];
    for (const { method, path, op } of operations()) {
      if (!('401' in op.responses)) continue;
      const named = (op.security ?? []).flatMap((r) => Object.keys(r));
      if (named.length === 0 && !['/v1/signin', '/v1/token/refresh', '/v1/invitations/accept'].includes(path)) {
        unsecured.push(`${method.toUpperCase()} ${path}`);
      }
      for (const n of named) expect(schemes, `${method} ${path}`).toContain(n);
    }
    expect(unsecured).toEqual([]);
    expect(doc.paths['/v1/teams/{team}/purchases']?.post?.security).toEqual([{ adminKey: [] }, { operatorKey: [] }]);
    expect(doc.paths['/v1/launch']?.post?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/products']?.post?.security).toEqual([{ operatorKey: [] }]);
    for (const path of ['/healthz', '/.well-known/jwks.json', '/v1/signin']) {
      expect(Object.values(doc.paths[path] ?? {})[0]?.security ?? [], path).toEqual([]);
    }
  });
});
