import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { ID_TOKEN_AUDIENCE, ID_TOKEN_TYP } from '@flexgate/shared';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Pair } from '../../client/src/testing/keys';
import { Sealer } from '../../gateway/src/signing/seal';
import { newAdmin } from '../harness/admin';
import { testKek } from '../harness/db';
import { newMember, newTeam, seedCatalog, setClock, type TestUser } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, type Api, expectStatus } from '../harness/http';

/**
 * Authentication and authorisation: every route of /openapi.json against every kind of
 * bad credential and every wrong principal. All are refused (401 for a credential that is not
 * ours, 403 for a real one without the right), and no refusal carries another team's data.
 */
let gw: TestGateway;
let teamA: string;
let teamB: string;
let teamBName: string;
let adminA: Api;
let userA: TestUser;
let userB: TestUser;
let sessionB: string;
/** An access token signed by the gateway's own key, made outside it. */
let ownToken: string;
const bad: Record<string, string> = {};

const NOW = '2026-03-15T10:00:00Z';
const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, NOW);
  await seedCatalog(gw);
  teamA = await newTeam(gw, 100);
  teamBName = `Secret team ${randomBytes(4).toString('hex')}`;
  teamB = expectStatus(await gw.op.post('/v1/teams', { name: teamBName }), 201).id;
  expectStatus(await gw.op.post(`/v1/teams/${teamB}/purchases`, { tokens: 777 }), 201);
  adminA = (await newAdmin(gw, [teamA])).api;
  userA = await newMember(gw, teamA, ['autocad']);
  userB = await newMember(gw, teamB, ['autocad']);
  const launchB = expectStatus(await userB.api.post('/v1/launch', { product: 'autocad' }), 200);
  sessionB = launchB.session.id;

  // The gateway's real signing key, read from its database as an attacker who stole nothing would not.
  const db = gw.running.database.db as unknown as Kysely<any>;
  const row = await db.selectFrom('signing_keys').selectAll().where('retired_at', 'is', null).executeTakeFirstOrThrow();
  // Sealed at rest under the harness's KEK (signing/seal.ts): the test holds the KEK, an attacker would not.
  const jwk = new Sealer(testKek).open(row.private_jwk, `signing_keys.private_jwk of ${row.kid}`);
  const realKey = createPrivateKey({ key: JSON.parse(jwk), format: 'jwk' });
  const kid = row.kid as string;
  const claims = (sub: string, iat: number, exp: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: ID_TOKEN_TYP })
      .setIssuer('flexgate')
      .setAudience(ID_TOKEN_AUDIENCE)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(`idt_${randomBytes(6).toString('hex')}`);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const payload = {
    iss: 'flexgate',
    aud: ID_TOKEN_AUDIENCE,
    sub: userA.autodeskId,
    iat: sec(NOW) - 60,
    exp: sec(NOW) + 3600,
    jti: 'idt_x',
  };
  const other = ed25519Pair();
  ownToken = await claims(userA.autodeskId, sec(NOW) - 60, sec(NOW) + 3600).sign(realKey);

  bad.garbage = 'garbage';
  bad['three dots'] = 'a.b.c';
  bad['unknown admin key'] = `fga_${randomBytes(32).toString('base64url')}`;
  bad['operator key with a typo'] = `${gw.operatorKey}x`;
  bad['expired ID token'] = await claims(userA.autodeskId, sec(NOW) - 7200, sec(NOW) - 3600).sign(realKey);
  bad['token signed by another key'] = await claims(userA.autodeskId, sec(NOW) - 60, sec(NOW) + 3600).sign(other.privateKey);
  bad['alg: none'] = `${b64({ alg: 'none', typ: ID_TOKEN_TYP, kid })}.${b64(payload)}.`;
  bad['HS256 keyed with the public key'] = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid, typ: ID_TOKEN_TYP })
    .sign(new Uint8Array(createPublicKey(realKey).export({ format: 'der', type: 'spki' })));
  bad['a real token with a garbage signature'] = await claims(userA.autodeskId, sec(NOW) - 60, sec(NOW) + 3600)
    .sign(realKey)
    .then((t) => `${t.split('.').slice(0, 2).join('.')}.${randomBytes(64).toString('base64url')}`);
  bad['wrong audience'] = await claims(userA.autodeskId, sec(NOW) - 60, sec(NOW) + 3600)
    .setAudience('flexgate:entitlement')
    .sign(realKey);
  bad['an entitlement used as an ID token'] = launchB.entitlement;
  bad['signature of another token'] =
    `${bad['expired ID token']?.split('.').slice(0, 2).join('.')}.${(await claims(userA.autodeskId, 1, 2).sign(realKey)).split('.')[2]}`;
});
afterAll(async () => gw?.close());

interface Route {
  method: string;
  path: string;
  kind: 'operator' | 'team' | 'user' | 'public' | 'anyone';
}

async function routes(): Promise<Route[]> {
  const doc = expectStatus(await gw.anon.get('/openapi.json'), 200);
  const out: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { tags?: string[] }>>)) {
    // Only /v1 reads credentials; the health check, metrics and key sets are public (openapi.test.ts).
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const tags = op.tags ?? [];
      const kind =
        path === '/v1/signin' || path === '/v1/invitations/accept' || path === '/v1/token/refresh'
          ? 'public'
          : tags.includes('operator') || tags.includes('test')
            ? 'operator'
            : path.startsWith('/v1/teams/{team}')
              ? 'team'
              : tags.includes('user')
                ? 'user'
                : 'anyone';
      out.push({ method: method.toUpperCase(), path, kind });
    }
  }
  return out;
}

/** Valid bodies, so that what refuses is authorisation, not validation; aimed at team B's things. */
function call(api: Api, r: Route): Promise<Answer> {
  const path = r.path
    .replace('{team}', teamB)
    .replace('{autodeskId}', encodeURIComponent(userB.autodeskId))
    .replace('{key}', 'autocad')
    .replace('{kid}', 'kid_none')
    .replace('{id}', r.path.includes('/sessions/') ? sessionB : 'inv_none');
  const bodies: Record<string, unknown> = {
    'POST /v1/products': { key: 'sneaky', name: 'Sneaky', dailyRate: 1 },
    'PATCH /v1/products/{key}': { dailyRate: 1 },
    'POST /v1/teams': { name: 'Sneaky' },
    'POST /v1/admins': { name: 'Sneaky', email: 'sneaky@example.com', teams: [teamB] },
    'POST /v1/users': { autodeskId: 'sneaky@example.com', name: 'Sneaky', password: 'password-123' },
    'POST /v1/subscriptions': { autodeskId: userA.autodeskId, product: 'revit', endsAt: '2027-01-01T00:00:00Z' },
    'POST /v1/trials': { autodeskId: userA.autodeskId, product: 'revit', endsAt: '2027-01-01T00:00:00Z' },
    'POST /v1/test/clock': { now: '2030-01-01T00:00:00Z' },
    'POST /v1/teams/{team}/purchases': { tokens: 5 },
    'POST /v1/teams/{team}/transfers': { toTeam: teamA, tokens: 700 },
    'POST /v1/teams/{team}/members': { autodeskId: userA.autodeskId, allProducts: true },
    'PUT /v1/teams/{team}/members/{autodeskId}/products': { allProducts: true, products: [] },
    'PUT /v1/teams/{team}/members/{autodeskId}/guest': { guest: true },
    'PUT /v1/teams/{team}/defaults': { products: ['revit'] },
    'POST /v1/invitations/accept': { token: 'not-a-real-token', password: 'password-123' },
    'POST /v1/signin': { autodeskId: userB.autodeskId, password: 'wrong-password' },
    'POST /v1/token/refresh': { refreshToken: 'fgr_not-a-real-refresh-token' },
    'POST /v1/launch': { product: 'autocad', team: teamB },
  };
  const key = `${r.method} ${r.path}`;
  if (r.path.endsWith('/members/import')) {
    return api.request('POST', path, 'name,email,products,guest\nSneaky,sneaky@example.com,autocad,false\n', {
      'content-type': 'text/csv',
    });
  }
  const body = bodies[key];
  return api.request(r.method, path, r.method === 'GET' || r.method === 'DELETE' ? undefined : (body ?? {}));
}

/** Nothing of team B in a refusal: not its name, its balance, its members or its session. */
function expectNothingOfB(a: Answer, what: string): void {
  const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
  for (const secret of [teamBName, userB.autodeskId, sessionB, '"balance"', '"lots"']) expect(text, what).not.toContain(secret);
}

function expectRefusal(a: Answer, status: 401 | 403, what: string): void {
  expect(a.status, `${what}: ${JSON.stringify(a.body)}`).toBe(status);
  expect(a.headers.get('content-type'), what).toContain('application/problem+json');
  if (status === 401) {
    expect(a.body.code, what).toBe('unauthorized');
    expect(a.headers.get('www-authenticate'), what).toBe('Bearer');
  }
  expectNothingOfB(a, what);
}

describe('authentication: every route refuses every credential that is not ours (401)', () => {
  it('the table covers every route of the OpenAPI document', async () => {
    const rs = await routes();
    expect(rs.length).toBeGreaterThan(25);
    expect(
      rs
        .filter((r) => r.kind === 'public')
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/v1/invitations/accept', '/v1/signin', '/v1/token/refresh']);
  });

  it('no token: every route but sign-in and invitation accept answers 401', async () => {
    for (const r of await routes()) {
      if (r.kind === 'public') continue;
      expectRefusal(await call(gw.anon, r), 401, `${r.method} ${r.path} without a token`);
    }
  });

  it('garbage, expired, foreign-key, alg:none, HS256, wrong-audience and entitlement tokens: 401 everywhere', async () => {
    const rs = await routes();
    let n = 0;
    for (const [name, token] of Object.entries(bad)) {
      for (const r of rs) {
        expectRefusal(await call(gw.anon.as(token), r), 401, `${r.method} ${r.path} with ${name}`);
        n += 1;
      }
    }
    console.log(`auth: ${n} calls with ${Object.keys(bad).length} kinds of bad credential over ${rs.length} routes, all 401`);
    // An expired token is told to refresh, not that its sign-in was ended.
    const expired = await gw.anon.as(bad['expired ID token'] as string).get('/v1/me/products');
    expect(expired.body.detail).toBe('The bearer token is not a valid, unexpired flexgate access token; refresh it or sign in again.');
  });

  it('an Authorization header that is not one bearer token of at most 4,096 characters is a 401 saying how to send one, sign-in included', async () => {
    const calls: [string, string, unknown][] = [
      ['GET', '/v1/me/products', undefined],
      ['POST', '/v1/launch', { product: 'autocad' }],
      ['POST', '/v1/signin', { autodeskId: userA.autodeskId, password: 'wrong-password' }],
    ];
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer two tokens', `Bearer ${'x'.repeat(4097)}`]) {
      for (const [method, path, body] of calls) {
        const what = `${method} ${path} with "${header.slice(0, 20)}"`;
        const a = await gw.anon.request(method, path, body, { authorization: header });
        expectRefusal(a, 401, what);
        expect(a.body.detail, what).toBe('Send credentials as "Authorization: Bearer <token>".');
      }
    }
    // At 4,096 characters a token is still read, and is neither kind of credential.
    const longest = await gw.anon.request('GET', '/v1/me/products', undefined, { authorization: `Bearer ${'x'.repeat(4096)}` });
    expectRefusal(longest, 401, 'a token of 4,096 characters');
    expect(longest.body.detail).toBe('The bearer token is neither an admin key nor an ID token.');
  });

  it('sign-in issues an EdDSA access token the client can verify against the JWKS, with its refresh token; any token our key signed launches', async () => {
    const { token, refreshToken } = expectStatus(
      await gw.anon.post('/v1/signin', { autodeskId: userA.autodeskId, password: userA.password }),
      200,
    );
    expect(refreshToken).toMatch(/^fgr_[A-Za-z0-9_-]{43}$/);
    // Any JOSE library can check it against the JWKS.
    const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
      typ: ID_TOKEN_TYP,
      issuer: 'flexgate',
      audience: ID_TOKEN_AUDIENCE,
      currentDate: new Date(NOW),
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: ID_TOKEN_TYP });
    expect(payload.sub).toBe(userA.autodeskId);
    expect(payload.fam).toMatch(/^fam_/);
    expect(payload).not.toHaveProperty('gmac');
    expectStatus(await gw.anon.as(token).post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await gw.anon.as(ownToken).post('/v1/launch', { product: 'autocad' }), 200);
  });

  it("a verified token's signature under another payload is refused: the verified-token cache finds tokens by signature and compares them whole", async () => {
    const { token } = expectStatus(await gw.anon.post('/v1/signin', { autodeskId: userB.autodeskId, password: userB.password }), 200);
    // Verified once, so the gateway now knows this signature.
    expectStatus(await gw.anon.as(token).post('/v1/launch', { product: 'autocad' }), 200);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const asA = Buffer.from(JSON.stringify({ ...claims, sub: userA.autodeskId })).toString('base64url');
    const forged = `${header}.${asA}.${signature}`;
    // Both ways in: the launch lane (a JSON launch) and the general chain.
    expectRefusal(await gw.anon.as(forged).post('/v1/launch', { product: 'autocad' }), 401, 'launch with a reused signature');
    expectRefusal(await gw.anon.as(forged).get('/v1/me/products'), 401, 'GET /v1/me/products with a reused signature');
    // The real token still works, as user B.
    expect(expectStatus(await gw.anon.as(token).post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({
      charged: 0,
      session: { id: sessionB },
    });
  });
});

describe('authorisation: real credentials on routes they have no right to (403)', () => {
  it('a user token on operator and team-admin routes', async () => {
    for (const r of await routes()) {
      if (r.kind !== 'operator' && r.kind !== 'team') continue;
      expectRefusal(await call(userA.api, r), 403, `${r.method} ${r.path} as a user`);
    }
  });

  it('an admin of team A on operator routes, team B routes and user routes', async () => {
    for (const r of await routes()) {
      if (r.kind === 'public' || r.kind === 'anyone') continue;
      expectRefusal(await call(adminA, r), 403, `${r.method} ${r.path} as admin of another team`);
    }
  });

  it('the operator key on user routes: the operator is not a user either', async () => {
    for (const r of await routes()) {
      if (r.kind !== 'user') continue;
      expectRefusal(await call(gw.op, r), 403, `${r.method} ${r.path} as the operator`);
    }
  });

  it('a user cannot launch, heartbeat or end as another Autodesk ID', async () => {
    // No field names the user: the ID token does. An extra field is refused, not obeyed.
    const asB = await userA.api.post('/v1/launch', { product: 'autocad', autodeskId: userB.autodeskId });
    expect(asB.status).toBe(400);
    expectNothingOfB(asB, 'launch with autodeskId');
    // Naming team B, which user A is not a member of, is refused without a word about team B.
    const onB = await userA.api.post('/v1/launch', { product: 'autocad', team: teamB });
    expect(onB.status).toBe(403);
    expectNothingOfB(onB, 'launch on team B');
    for (const action of ['heartbeat', 'end']) {
      const r = await userA.api.post(`/v1/sessions/${sessionB}/${action}`);
      expect([403, 404]).toContain(r.status);
      expect(JSON.stringify(r.body)).not.toContain(teamBName);
      expect(JSON.stringify(r.body)).not.toContain(userB.autodeskId);
    }
    // B's session and balance are as they were.
    const again = expectStatus(await userB.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(again).toMatchObject({ charged: 0, session: { id: sessionB }, balance: 770 });
  });

  it('after all of that, team B is untouched', async () => {
    const b = expectStatus(await gw.op.get(`/v1/teams/${teamB}/balance`), 200);
    expect(b.balance).toBe(770);
    expect(b.lots).toHaveLength(1);
    const members = expectStatus(await gw.op.get(`/v1/teams/${teamB}/members`), 200);
    expect(members.map((m: { autodeskId: string }) => m.autodeskId)).toEqual([userB.autodeskId]);
    const products = expectStatus(await gw.op.get('/v1/products'), 200);
    expect(products.map((p: { key: string }) => p.key)).not.toContain('sneaky');
  });
});
