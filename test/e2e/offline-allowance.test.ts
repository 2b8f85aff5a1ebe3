/**
 * `POST /v1/offline-allowance` against a real gateway: what it signs (the products a launch would
 * get now, until when, how many provisional launches), that it passes for nothing else, its input
 * and roles, and the operator settings that lower it or turn provisional launches off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, createKeyStore, createVerifier, EntitlementRejected } from '@flexgate/client';
import { ALLOWANCE_AUDIENCE, ALLOWANCE_TYP, KEY_SET_PATH, ROOT_KEY_PATH } from '@flexgate/shared';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptInvitationOf,
  buy,
  joinTeam,
  newAccount,
  newMember,
  newTeam,
  seedCatalog,
  setClock,
  signIn,
  type TestUser,
} from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { trustOf } from '../harness/trust';

const HOUR = 3600_000;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

async function verified(jws: string) {
  const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200) as JSONWebKeySet;
  return jwtVerify(jws, createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    typ: ALLOWANCE_TYP,
    audience: ALLOWANCE_AUDIENCE,
    issuer: 'flexgate',
  });
}

describe('POST /v1/offline-allowance', () => {
  it('R9/R12/R4: signs, for the user, the products a launch would get now, for 24 hours, in 6 slots', async () => {
    const rich = await newTeam(gw, 100);
    const poor = await newTeam(gw, 5);
    const user = await newMember(gw, rich, ['autocad', 'revit']);
    // Also a member of a team that cannot pay a day of AutoCAD (7 > 5): not listed through it.
    await joinTeam(gw, poor, user, { products: ['autocad'] });
    // Maya by subscription: for any team.
    const endsAt = new Date(Date.now() + 30 * 24 * HOUR).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: user.autodeskId, product: 'maya', endsAt }), 201);
    // Civil 3D on trial: for any team likewise.
    expectStatus(await gw.op.post('/v1/trials', { autodeskId: user.autodeskId, product: 'civil-3d', endsAt }), 201);

    const res = await user.api.post('/v1/offline-allowance', { machine: 'ws-17' });
    const body = expectStatus(res, 201);
    const { payload, protectedHeader } = await verified(body.allowance);
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'flexgate-allowance+jwt' });
    expect(payload).toMatchObject({ sub: user.autodeskId, aid: body.id, launches: 6 });
    expect((payload.exp as number) - (payload.iat as number)).toBe(24 * 3600);
    const listed = (payload.products as { product: string; team: string | null }[]).map((p) => `${p.product}@${p.team}`).sort();
    expect(listed).toEqual([`autocad@${rich}`, 'civil-3d@null', 'maya@null', `revit@${rich}`]);
    // The answer says the same as the signed claims.
    expect(body).toMatchObject({
      issuedAt: new Date((payload.iat as number) * 1000).toISOString(),
      expiresAt: new Date((payload.exp as number) * 1000).toISOString(),
      launches: 6,
      products: payload.products,
    });
  });

  it('R17: an allowance passes neither as an entitlement with the client nor as an ID token with the gateway', async () => {
    const user = await newMember(gw, await newTeam(gw, 50));
    const { allowance } = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    const keys = createKeyStore({
      trust: await trustOf(gw),
      issuer: 'flexgate',
      fetchKeySet: async () => (await gw.anon.get(KEY_SET_PATH)).text,
      fetchRoot: async () => expectStatus(await gw.anon.get(ROOT_KEY_PATH), 200),
      load: async () => null,
      save: async () => {},
    });
    const verifier = createVerifier(keys, { issuer: 'flexgate', clockSkewSec: 30, now: () => new Date() });
    const rejection = await verifier.verify(allowance, { product: 'autocad', sub: user.autodeskId, allowRefresh: true }).catch((e) => e);
    expect(rejection).toBeInstanceOf(EntitlementRejected);
    expect(rejection.code).toBe('wrong-type');
    const asBearer = await gw.anon.as(allowance).post('/v1/launch', { product: 'autocad' });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('a user with no access gets an allowance that lists nothing', async () => {
    const account = await newAccount(gw);
    const { api } = await signIn(gw, account);
    const body = expectStatus(await api.post('/v1/offline-allowance', {}), 201);
    expect(body.products).toEqual([]);
    expect((await verified(body.allowance)).payload.products).toEqual([]);
  });

  it('R11/R16: a team whose invitation is not accepted yet gives nothing to install and nothing offline; accepted, it does', async () => {
    const team = await newTeam(gw, 100);
    const account = await newAccount(gw);
    const user = await signIn(gw, account);
    expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, products: ['maya'] }), 201);
    const mine = async () => expectStatus(await user.api.get('/v1/me/products'), 200);
    const offline = async () => expectStatus(await user.api.post('/v1/offline-allowance', {}), 201).products;
    expect(await mine()).toEqual([]);
    expect(await offline()).toEqual([]);
    await acceptInvitationOf(gw, account);
    expect(await mine()).toEqual([expect.objectContaining({ key: 'maya', via: ['flex'], teams: [team] })]);
    expect(await offline()).toEqual([{ product: 'maya', team }]);
  });

  it('validates its body and its caller, answering problem+json', async () => {
    const user = await newMember(gw, await newTeam(gw, 10));
    const unknownField = await user.api.post('/v1/offline-allowance', { machine: 'a', launches: 1000 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body).toMatchObject({ code: 'invalid-request' });
    expect(unknownField.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await user.api.post('/v1/offline-allowance', { machine: 'x'.repeat(201) })).status).toBe(400);
    expect((await user.api.post('/v1/offline-allowance', 'not json', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await gw.anon.post('/v1/offline-allowance', {})).body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect((await gw.op.post('/v1/offline-allowance', {})).body).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('R6: a launch under an allowance that has ended since is still charged when reported, a new allowance given meanwhile', async () => {
    const team = await newTeam(gw, 50);
    const user = await newMember(gw, team, ['revit']);
    const old = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    // An instance whose clock is a day and an hour on: the allowance ended an hour ago; the launch
    // made in its last minutes is reported 25 hours after it ran, within the 28 a report may take.
    const later = await startTestGateway({}, gw);
    try {
      await setClock(later, new Date(Date.parse(old.issuedAt) + 25 * HOUR));
      // Signed in again there: the first access token has long expired on that clock.
      const fresh = await signIn(later, { autodeskId: user.autodeskId, password: user.password });
      expectStatus(await fresh.api.post('/v1/offline-allowance', {}), 201);
      const launchedAt = new Date(Date.parse(old.expiresAt) - 10 * 60_000).toISOString();
      const report = await fresh.api.post('/v1/launch', { product: 'revit', provisional: { id: `${old.id}.0`, launchedAt } });
      expect(expectStatus(report, 200)).toMatchObject({ charged: 10, session: { startsAt: launchedAt } });
    } finally {
      await later.close();
    }
  });

  it('R6: a launch reported with a time ahead of the gateway’s (a client clock fast, a short outage) is charged once, from the gateway’s now', async () => {
    const team = await newTeam(gw, 50);
    const user = await newMember(gw, team, ['revit']);
    const allowance = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    // The gateway runs on real time here: the report is dated 5 minutes after it is sent.
    const before = Date.now();
    const provisional = { id: `${allowance.id}.0`, launchedAt: new Date(before + 5 * 60_000).toISOString() };
    const send = () =>
      user.api.post('/v1/launch', { product: 'revit', provisional }, { 'idempotency-key': `provisional-${provisional.id}` });
    const first = expectStatus(await send(), 200);
    const after = Date.now();
    expect(first).toMatchObject({ charged: 10, balance: 40 });
    const startsAt = Date.parse(first.session.startsAt);
    expect(startsAt >= before && startsAt <= after, `${first.session.startsAt} between the request's ends`).toBe(true);
    // Sent again (the client did not hear the answer): the same session, not a second day.
    expect(expectStatus(await send(), 200)).toMatchObject({ charged: 10, balance: 40 });
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(40);
  });

  it('R6: five products launched offline and reported at once, each three times, open five sessions and charge each once', async () => {
    const products = { autocad: 7, revit: 10, maya: 9, '3ds-max': 9, 'civil-3d': 11 };
    const keys = Object.keys(products);
    const team = await newTeam(gw, 100);
    const user = await newMember(gw, team, keys);
    const allowance = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    const report = (slot: number) =>
      user.api.post('/v1/launch', { product: keys[slot], provisional: { id: `${allowance.id}.${slot}`, launchedAt: allowance.issuedAt } });
    // Sent together, reports of one user meet in charge groups: each must find its own session there.
    const slots = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4];
    const answers = (await Promise.all(slots.map(report))).map((a) => expectStatus(a, 200));
    const sessionOf = new Map<number, string>();
    for (const [k, slot] of slots.entries()) {
      const answer = answers[k];
      expect(decodeJwt(answer.entitlement).product, `slot ${slot}`).toBe(keys[slot]);
      expect(answer.session.id).toBe(sessionOf.get(slot) ?? answer.session.id);
      sessionOf.set(slot, answer.session.id);
    }
    expect(new Set(sessionOf.values()).size).toBe(5);
    const ledger = expectStatus(await gw.op.get(`/v1/teams/${team}/ledger`), 200) as { kind: string; tokens: number; product: string }[];
    const charged = ledger.filter((e) => e.kind === 'charge').map((e) => [e.product, -e.tokens]);
    expect(Object.fromEntries(charged)).toEqual(products);
    expect(charged).toHaveLength(5);
  });

  it('R9: a launch reported from offline while the user held a subscription is answered by it and charges nothing', async () => {
    const team = await newTeam(gw, 50);
    const user = await newMember(gw, team, ['autocad']);
    const allowance = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    // Recorded after the allowance was given, but in force when the product ran.
    const startsAt = new Date(Date.parse(allowance.issuedAt) - HOUR).toISOString();
    const endsAt = new Date(Date.parse(allowance.issuedAt) + 30 * 24 * HOUR).toISOString();
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: user.autodeskId, product: 'autocad', startsAt, endsAt }), 201);
    const report = await user.api.post('/v1/launch', {
      product: 'autocad',
      provisional: { id: `${allowance.id}.0`, launchedAt: allowance.issuedAt },
    });
    expect(expectStatus(report, 200)).toMatchObject({ granted: true, source: 'subscription', charged: 0, session: null });
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(50);
  });

  it('the allowance is not charged', async () => {
    const team = await newTeam(gw, 20);
    const user = await newMember(gw, team);
    for (let i = 0; i < 3; i++) expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(20);
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/ledger`), 200).map((e: { kind: string }) => e.kind)).toEqual(['purchase']);
  });
});

describe('a day already paid for (R7), through a team that cannot pay another', () => {
  const MINUTE = 60_000;
  let inst: TestGateway;
  beforeAll(async () => {
    // An instance of its own on the same database: its clock moves by the day.
    inst = await startTestGateway({}, gw);
  });
  afterAll(async () => inst?.close());

  /** A member of a team of 10 tokens with AutoCAD (7), signed in on the instance; its day launched at `t0`. */
  async function paidDay(t0: number) {
    await setClock(inst, new Date(t0));
    const team = await newTeam(inst, 10);
    const account = await newAccount(inst);
    await joinTeam(inst, team, account, { products: ['autocad'] });
    const user = await signIn(inst, account);
    const day = expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(day).toMatchObject({ charged: 7, balance: 3 });
    return { team, user, session: day.session as { id: string; endsAt: string } };
  }
  const allowanceAt = async (user: { api: TestUser['api'] }, at: number) => {
    await setClock(inst, new Date(at));
    return expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);
  };

  it('is listed under `paid` until the session ends, once no close can refund it; never while one can', async () => {
    const t0 = Date.now() + 10 * 24 * HOUR;
    const { team, user, session } = await paidDay(t0);
    // Within the free 5 minutes a close may still refund the day (R7a): nothing was paid yet.
    expect(await allowanceAt(user, t0 + MINUTE)).toMatchObject({ products: [], paid: [] });
    // After them the day is paid, settled or not: listed until the session's end, in whole seconds as signed.
    const body = await allowanceAt(user, t0 + 6 * MINUTE);
    const until = Math.floor(Date.parse(session.endsAt) / 1000);
    expect(body).toMatchObject({ products: [], paid: [{ product: 'autocad', team, until: new Date(until * 1000).toISOString() }] });
    const { payload } = await verified(body.allowance);
    expect(payload.products).toEqual([]);
    expect(payload.paid).toEqual([{ product: 'autocad', team, until }]);
    // Settled by a relaunch: the same. Over (its 24 hours): nothing, 3 tokens paying no day.
    expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect((await allowanceAt(user, t0 + HOUR)).paid).toEqual(body.paid);
    expect(await allowanceAt(user, until * 1000 + 1000)).toMatchObject({ products: [], paid: [] });
    expect(expectStatus(await inst.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(3);
  });

  it('a team that can pay lists it under `products` as before; only the one that cannot, under `paid`', async () => {
    const t0 = Date.now() + 20 * 24 * HOUR;
    const { team, user, session } = await paidDay(t0);
    const rich = await newTeam(inst, 100);
    await joinTeam(inst, rich, user, { products: ['autocad'] });
    const body = await allowanceAt(user, t0 + 10 * MINUTE);
    expect(body.products).toEqual([{ product: 'autocad', team: rich }]);
    expect(body.paid).toEqual([
      { product: 'autocad', team, until: new Date(Math.floor(Date.parse(session.endsAt) / 1000) * 1000).toISOString() },
    ]);
  });

  it('a launch reported under it joins the day paid for (charged 0); one dated after the session ended is refused, tokens or not', async () => {
    const t0 = Date.now() + 30 * 24 * HOUR;
    const { team, user, session } = await paidDay(t0);
    const body = await allowanceAt(user, t0 + 2 * HOUR);
    const endsAt = Date.parse(body.paid[0].until);
    const report = (slot: number, launchedAt: number) =>
      user.api.post(
        '/v1/launch',
        { product: 'autocad', team, provisional: { id: `${body.id}.${slot}`, launchedAt: new Date(launchedAt).toISOString() } },
        { 'idempotency-key': `provisional-${body.id}.${slot}` },
      );
    await setClock(inst, new Date(endsAt + 2 * HOUR));
    expect(expectStatus(await report(0, endsAt - MINUTE), 200)).toMatchObject({ charged: 0, session: { id: session.id } });
    // The balance topped up since: a day could be paid now, but the allowance did not grant one.
    await buy(inst, team, 50);
    const late = await report(1, endsAt + MINUTE);
    expect(late.status).toBe(403);
    expect(late.body).toMatchObject({ code: 'offline-not-allowed', detail: expect.stringMatching(/only for the day already paid for/) });
    const charges = (expectStatus(await inst.op.get(`/v1/teams/${team}/ledger`), 200) as { kind: string; sessionId: string }[]).filter(
      (e) => e.kind === 'charge',
    );
    expect(charges.map((e) => e.sessionId)).toEqual([session.id]);
    expect(expectStatus(await inst.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(53);
  });
});

describe('the stock client, after the gateway refused a product', () => {
  it('R12/R4: a refused launch takes the product out of the offline allowance kept: no uncharged provisional launch of it in the outage after', async () => {
    // Revit (10) and AutoCAD (7) on a team of 10 tokens: the allowance of the sign-in lists both.
    const team = await newTeam(gw, 10);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad', 'revit', 'maya'] });
    const near = await startTestGateway({}, gw);
    const dir = mkdtempSync(join(tmpdir(), 'flexgate-refused-'));
    const client = createClient({
      trust: await trustOf(near),
      gatewayUrl: near.url,
      cacheDir: dir,
      http: { timeoutMs: 2000, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
    });
    try {
      await client.signIn(account.autodeskId, account.password);
      const listed = () => client.whoami().then((w) => (w.offlineAllowance?.products ?? []).map((p) => p.product).sort());
      expect(await listed()).toEqual(['autocad', 'maya', 'revit']);
      // A day of Revit leaves nothing for AutoCAD (R4); the admin unticks Maya (R12).
      expect(await client.launch('revit')).toMatchObject({ granted: true, charged: 10, balance: 0 });
      expectStatus(await gw.op.put(`/v1/teams/${team}/members/${account.autodeskId}/products`, { products: ['autocad', 'revit'] }), 200);
      expect(await client.launch('autocad')).toMatchObject({ granted: false, code: 'insufficient-tokens' });
      expect(await client.launch('maya')).toMatchObject({ granted: false, code: 'no-access' });
      const after = await listed();
      expect(after).not.toContain('autocad');
      expect(after).not.toContain('maya');

      // The outage: the client knows the gateway said no, and grants neither on its own.
      await near.close();
      for (const product of ['autocad', 'maya']) {
        expect(await client.launch(product), product).toMatchObject({ granted: false, code: 'gateway-unreachable' });
      }
      expect((await client.whoami()).provisional).toEqual([]);
    } finally {
      await client.close();
      await near.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('operator settings (FLEXGATE_OFFLINE_HOURS, FLEXGATE_OFFLINE_LAUNCHES)', () => {
  it('6 hours and 2 launches: the allowance ends 6 hours after it is issued, and a third slot is refused', async () => {
    const short = await startTestGateway({ offlineHours: 6, offlineLaunches: 2 }, gw);
    try {
      const team = await newTeam(gw, 50);
      const user = await newMember(gw, team);
      const api = short.anon.as(user.api.token as string);
      const body = expectStatus(await api.post('/v1/offline-allowance', {}), 201);
      expect(Date.parse(body.expiresAt) - Date.parse(body.issuedAt)).toBe(6 * HOUR);
      expect(body.launches).toBe(2);
      const report = (slot: number) =>
        api.post('/v1/launch', { product: 'autocad', provisional: { id: `${body.id}.${slot}`, launchedAt: body.issuedAt } });
      expect((await report(2)).body).toMatchObject({ status: 403, code: 'offline-not-allowed' });
      expect(expectStatus(await report(1), 200)).toMatchObject({ charged: 7 });
    } finally {
      await short.close();
    }
  });

  it('0 hours turns provisional launches off: no allowance, so the client grants nothing offline; what was issued before is still charged', async () => {
    const team = await newTeam(gw, 50);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { products: ['autocad', 'revit'] });
    const user = await signIn(gw, account);
    // Issued while allowed, on the gateway sharing the database.
    const before = expectStatus(await user.api.post('/v1/offline-allowance', {}), 201);

    const off = await startTestGateway({ offlineHours: 0 }, gw);
    const dir = mkdtempSync(join(tmpdir(), 'flexgate-off-'));
    const client = createClient({
      trust: await trustOf(off),
      gatewayUrl: off.url,
      cacheDir: dir,
      http: { timeoutMs: 2000, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
    });
    try {
      const refused = await off.anon.as(user.api.token as string).post('/v1/offline-allowance', {});
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
      expect(refused.body).toMatchObject({
        code: 'offline-not-allowed',
        detail: expect.stringMatching(/does not allow launches while it cannot be reached/),
      });

      await client.signIn(account.autodeskId, account.password);
      expect((await client.whoami()).offlineAllowance).toBeNull();
      const online = await client.launch('autocad');
      expect(online).toMatchObject({ granted: true, provisional: false, charged: 7 });
      await off.close();
      const offline = await client.launch('autocad', { fresh: true });
      // The cached entitlement at most: never a provisional launch.
      expect(offline.granted && offline.provisional).toBe(false);
      const other = await client.launch('maya');
      expect(other).toMatchObject({ granted: false, code: 'gateway-unreachable', reason: expect.stringMatching(/No offline allowance/) });

      // Turning it off withdraws no allowance already issued: a launch made under one is still charged.
      const report = await user.api.post('/v1/launch', {
        product: 'revit',
        provisional: { id: `${before.id}.0`, launchedAt: before.issuedAt },
      });
      expect(expectStatus(report, 200)).toMatchObject({ charged: 10, session: { startsAt: before.issuedAt } });
    } finally {
      await client.close();
      await off.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
