/**
 * Three gateway processes on one database, charging exactly once (R7) and never
 * overdrawing (R4) under concurrent launches spread across them, with entitlements that verify
 * against any instance's JWKS (R17).
 *
 * It runs on both engines: on PostgreSQL (the PostgreSQL pass) the three processes share a fresh
 * database; on SQLite they share one database file, which BEGIN IMMEDIATE (one writer at a time,
 * across processes) and busy_timeout (wait, do not fail) make safe, if slower than one process.
 */
import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../harness/db';
import { CATALOG, expectLedgerMatchesBalance, joinTeam, ledgerOf, newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { type Answer, expectStatus } from '../harness/http';
import { type Instance, type InstanceGroup, jwksOf, startGroup, viaInstance, withConcurrency } from '../harness/instances';

const PRODUCTS = ['autocad', 'revit', 'maya'] as const;
const RATE = new Map<string, number>(CATALOG.map((p) => [p.key, p.dailyRate]));
const rate = (product: string) => RATE.get(product) as number;
const USERS = 20;
const REPEATS = 5; // launches per (user, product): 20 x 3 x 5 = 300

let group: InstanceGroup;
let gws: Instance[];

beforeAll(async () => {
  group = await startGroup({ count: 3 });
  gws = group.instances;
  await seedCatalog(viaInstance(gws[0] as Instance));
}, 90_000);
afterAll(async () => group?.close(), 60_000);

interface Launcher {
  autodeskId: string;
  /** The user's ID token, signed by whichever instance they signed in on. */
  token: string;
}

/** A team with `tokens`, and `USERS` members with Flex access to PRODUCTS, signed in across the instances. */
async function teamWithUsers(tokens: number): Promise<{ team: string; users: Launcher[] }> {
  const first = viaInstance(gws[0] as Instance);
  const team = await newTeam(first, tokens);
  const users = await withConcurrency(
    5,
    Array.from({ length: USERS }, (_, i) => async () => {
      const gw = gws[i % gws.length] as Instance;
      const account = await newAccount(viaInstance(gw), `scale${i}`);
      await joinTeam(gw, team, account, { products: [...PRODUCTS] });
      // Signed in on one instance, used on all three: ID tokens verify everywhere too.
      const { token } = expectStatus(await gw.anon.post('/v1/signin', account), 200);
      return { autodeskId: account.autodeskId, token: token as string };
    }),
  );
  return { team, users };
}

interface Shot {
  user: Launcher;
  product: string;
  instance: number;
  answer: Answer;
}

/** 300 launches at once: every (user, product) five times, shuffled, round-robin over the instances. */
async function launchStorm(users: Launcher[]): Promise<Shot[]> {
  const plan = users.flatMap((user) => PRODUCTS.flatMap((product) => Array.from({ length: REPEATS }, (_, r) => ({ user, product, r }))));
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [plan[i], plan[j]] = [plan[j] as (typeof plan)[number], plan[i] as (typeof plan)[number]];
  }
  return Promise.all(
    plan.map(async ({ user, product, r }, k) => {
      const instance = k % gws.length;
      const gw = gws[instance] as Instance;
      try {
        return { user, product, instance, answer: await gw.anon.as(user.token).post('/v1/launch', { product, machine: `ws-${r}` }) };
      } catch (error) {
        // A connection failure, not an answer: which instance, and what it logged (FLEXGATE_LOG=warn).
        throw new Error(`launch ${k} on instance ${instance}: ${String(error)}; its log:\n${gw.proc.output().slice(-4000)}`, {
          cause: error,
        });
      }
    }),
  );
}

const pairOf = (s: Shot) => `${s.user.autodeskId}|${s.product}`;

function byPair(shots: Shot[]): Map<string, Shot[]> {
  const m = new Map<string, Shot[]>();
  for (const s of shots) m.set(pairOf(s), [...(m.get(pairOf(s)) ?? []), s]);
  return m;
}

/** Every entitlement handed out verifies offline against the JWKS of every instance (R17). */
async function expectEntitlementsVerifyEverywhere(granted: Shot[], team: string): Promise<void> {
  const keySets: JWTVerifyGetKey[] = [];
  for (const gw of gws) keySets.push((await jwksOf(gw)).keySet);
  const distinct = new Map<string, Shot>();
  for (const s of granted) distinct.set(s.answer.body.entitlement, s);
  for (const [jwt, s] of distinct) {
    for (const keySet of keySets) {
      const { payload } = await jwtVerify(jwt, keySet, { algorithms: ['EdDSA'] });
      expect(payload).toMatchObject({ sub: s.user.autodeskId, product: s.product, source: 'flex', team, sid: s.answer.body.session.id });
    }
  }
}

/** The ledger's charge entries, per session: what each session took. */
async function chargesBySession(team: string): Promise<Map<string, number>> {
  const charges = new Map<string, number>();
  for (const e of await ledgerOf(viaInstance(gws[1] as Instance), team)) {
    if (e.kind === 'charge') charges.set(e.sessionId, (charges.get(e.sessionId) ?? 0) - e.tokens);
  }
  return charges;
}

async function expectBalanceEverywhere(team: string, expected: number): Promise<void> {
  for (const gw of gws) {
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(expected);
    await expectLedgerMatchesBalance(viaInstance(gw), team); // R5, read through each instance
  }
}

describe(`three gateway instances on one ${testEngine()} database`, () => {
  it('R7: 300 concurrent launches (20 users x 3 products) across three instances open exactly 60 sessions and charge each once', async () => {
    const bought = 1000;
    const { team, users } = await teamWithUsers(bought);
    const shots = await launchStorm(users);

    for (const s of shots) expect(s.answer.status, JSON.stringify(s.answer.body)).toBe(200);
    const pairs = byPair(shots);
    expect(pairs.size).toBe(USERS * PRODUCTS.length);
    // R7: each (user, product) got one session, whichever instance answered, and exactly one of
    // its five launches charged the daily rate.
    for (const [pair, list] of pairs) {
      expect(new Set(list.map((s) => s.answer.body.session.id)).size, pair).toBe(1);
      const charging = list.filter((s) => s.answer.body.charged > 0);
      expect(charging.length, pair).toBe(1);
      expect(charging[0]?.answer.body.charged).toBe(rate((list[0] as Shot).product));
    }
    const sessions = new Set(shots.map((s) => s.answer.body.session.id as string));
    expect(sessions.size).toBe(60);
    const expectedCharge = users.length * PRODUCTS.reduce((sum, p) => sum + rate(p), 0);
    expect(shots.reduce((sum, s) => sum + s.answer.body.charged, 0)).toBe(expectedCharge);

    // The ledger agrees: one charge per session, each of its product's daily rate, nothing else.
    const charges = await chargesBySession(team);
    expect(new Set(charges.keys())).toEqual(sessions);
    const rateOfSession = new Map(shots.map((s) => [s.answer.body.session.id as string, rate(s.product)]));
    for (const [sid, tokens] of charges) expect(tokens, sid).toBe(rateOfSession.get(sid));
    expect([...charges.values()].reduce((a, b) => a + b, 0)).toBe(expectedCharge);

    await expectBalanceEverywhere(team, bought - expectedCharge);
    await expectEntitlementsVerifyEverywhere(shots, team);
  }, 120_000);

  it('R4: a team whose balance covers only some of the 60 charges is never overdrawn, and every refusal is insufficient-tokens', async () => {
    const bought = 200; // 20 users x (7 + 10 + 9) = 520 would be needed
    const { team, users } = await teamWithUsers(bought);
    const shots = await launchStorm(users);

    for (const s of shots) {
      if (s.answer.status === 200) expect(s.answer.body).toMatchObject({ granted: true, source: 'flex' });
      else expect([s.answer.status, s.answer.body.code], JSON.stringify(s.answer.body)).toEqual([403, 'insufficient-tokens']);
    }
    const granted = shots.filter((s) => s.answer.status === 200);
    const refused = shots.filter((s) => s.answer.status !== 200);
    expect(granted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);

    const balance = expectStatus(await (gws[2] as Instance).op.get(`/v1/teams/${team}/balance`), 200).balance as number;
    expect(balance).toBeGreaterThanOrEqual(0);
    const sessions = new Set(granted.map((s) => s.answer.body.session.id as string));
    const charged = granted.reduce((sum, s) => sum + s.answer.body.charged, 0);
    expect(charged).toBe(bought - balance);
    const charges = await chargesBySession(team);
    expect(new Set(charges.keys())).toEqual(sessions);
    expect([...charges.values()].reduce((a, b) => a + b, 0)).toBe(bought - balance);

    for (const [pair, list] of byPair(shots)) {
      const ok = list.filter((s) => s.answer.status === 200);
      // Exactly once still holds for what was granted: one session, one charge.
      expect(new Set(ok.map((s) => s.answer.body.session.id)).size, pair).toBeLessThanOrEqual(1);
      expect(ok.filter((s) => s.answer.body.charged > 0).length, pair).toBe(ok.length > 0 ? 1 : 0);
      // R7 "concurrently": a launch racing the one that opened the session shares it; it is not
      // refused for the tokens that very session just took.
      expect(ok.length === 0 || ok.length === list.length, `${pair}: ${ok.length} of ${list.length} granted`).toBe(true);
      // A refusal was deserved: balances only go down here, so the tokens are still short now.
      if (ok.length < list.length) expect(balance, pair).toBeLessThan(rate((list[0] as Shot).product));
    }

    await expectBalanceEverywhere(team, balance);
    await expectEntitlementsVerifyEverywhere(granted, team);
  }, 120_000);

  it("R7 with R4: launches racing the one that takes a team's last tokens share its session instead of being refused", async () => {
    // A sharp edge of READ COMMITTED: a launch that saw no session, then read the lots after the
    // winner committed, finds the tokens gone. It must notice the winner's session, not refuse.
    for (let round = 0; round < 3; round++) {
      const team = await newTeam(viaInstance(gws[0] as Instance), rate('revit'));
      const account = await newAccount(viaInstance(gws[0] as Instance), 'last');
      await joinTeam(gws[0] as Instance, team, account, { products: ['revit'] });
      const { token } = expectStatus(await (gws[1] as Instance).anon.post('/v1/signin', account), 200);
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, k) =>
          (gws[k % gws.length] as Instance).anon.as(token).post('/v1/launch', { product: 'revit', machine: `ws-${k}` }),
        ),
      );
      const codes = answers.map((a) => (a.status === 200 ? 'granted' : a.body.code));
      expect(
        codes.filter((c) => c !== 'granted'),
        `round ${round}`,
      ).toEqual([]);
      expect(new Set(answers.map((a) => a.body.session.id)).size).toBe(1);
      expect(answers.filter((a) => a.body.charged > 0).length).toBe(1);
      await expectBalanceEverywhere(team, 0);
    }
  }, 120_000);
});
