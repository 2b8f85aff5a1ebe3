import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../harness/db';
import { balanceOf, buy, expectLedgerMatchesBalance, ledgerOf, newMember, newTeam, seedCatalog, type TestUser } from '../harness/fixtures';
import { type Answer, expectStatus, simultaneously } from '../harness/http';
import { type Instance, type InstanceGroup, startGroup, viaInstance } from '../harness/instances';

/**
 * docs/http.md, Idempotency-Key: a launch that opened and charged a session stores its answer, and
 * the same key with the same body gets that answer again, with no second charge; with another body
 * it is a 409. The stock client sends one key per launch and the same key with each retry, so the
 * retries of one launch can arrive together, on different instances: they must all get the first
 * answer, byte for byte (the client keeps the entitlement and session of whichever comes back).
 */
let group: InstanceGroup;
let gws: Instance[];
beforeAll(async () => {
  group = await startGroup({ count: 2 });
  gws = group.instances;
  await seedCatalog(viaInstance(gws[0] as Instance));
}, 90_000);
afterAll(async () => group?.close(), 60_000);

const CONCURRENT = 200;
const ROUNDS = 4;
const AUTOCAD = 7;

/** A member of a new team holding `tokens`, whose ID token works on both instances. */
async function member(tokens: number): Promise<{ team: string; user: TestUser }> {
  const first = viaInstance(gws[0] as Instance);
  const team = await newTeam(first, tokens);
  return { team, user: await newMember(first, team, 'all') };
}

/** The same launch as `user`, through instance `i`. */
function launch(user: TestUser, i: number, body: unknown, key?: string): Promise<Answer> {
  return (gws[i] as Instance).anon.as(user.api.token as string).post('/v1/launch', body, key ? { 'idempotency-key': key } : {});
}

async function chargesOf(team: string): Promise<any[]> {
  return (await ledgerOf(viaInstance(gws[1] as Instance), team)).filter((e) => e.kind === 'charge');
}

describe(`one Idempotency-Key, two instances on one ${testEngine()} database`, () => {
  it(`${CONCURRENT} concurrent launches with one key charge once and all get the first answer, byte for byte, as a later retry does`, async () => {
    // A few rounds, each with a new user: the race is in how the launches interleave.
    for (let round = 0; round < ROUNDS; round++) {
      const { team, user } = await member(100);
      const key = `launch-retried-${CONCURRENT}-times`;
      const body = { product: 'autocad', machine: 'ws-1' };
      // Half to each instance; all written in one turn (each on a connection of its own), or as
      // fast as the pooled connections take them, so that some arrive after the first committed.
      const answers =
        round % 2 === 0
          ? await simultaneously(
              Array.from({ length: CONCURRENT }, (_, k) => ({
                api: (gws[k % 2] as Instance).anon.as(user.api.token as string),
                method: 'POST',
                path: '/v1/launch',
                body,
                headers: { 'idempotency-key': key },
              })),
            )
          : await Promise.all(Array.from({ length: CONCURRENT }, (_, k) => launch(user, k % 2, body, key)));

      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const counts = new Map<string, number>();
      for (const a of answers) counts.set(a.text, (counts.get(a.text) ?? 0) + 1);
      const distinct = [...counts.entries()].map(([text, n]) => `${n} x ${text}`);
      expect(distinct, `round ${round}: ${distinct.length} different answers to one key:\n${distinct.join('\n')}`).toHaveLength(1);
      const answer = answers[0]?.body;
      // The first answer is the one that charged: the client shows what the day cost.
      expect(answer).toMatchObject({ granted: true, source: 'flex', charged: AUTOCAD, balance: 100 - AUTOCAD, team });

      // Charged once (R7): one session, one charge, on the ledger and in the balance.
      const charges = await chargesOf(team);
      expect(charges.map((e) => [e.sessionId, e.tokens])).toEqual([[answer.session.id, -AUTOCAD]]);
      expect(await balanceOf(viaInstance(gws[0] as Instance), team)).toBe(100 - AUTOCAD);

      // A retry later, through either instance, replays the same bytes.
      for (const i of [0, 1]) {
        const retry = await launch(user, i, body, key);
        expect(retry.status).toBe(200);
        expect(retry.text).toBe(answers[0]?.text);
      }
      expect(await chargesOf(team)).toHaveLength(1);
      await expectLedgerMatchesBalance(viaInstance(gws[0] as Instance), team);
    }
  });

  it('the same key with another body is a 409 conflict, on either instance, and charges nothing', async () => {
    const { team, user } = await member(100);
    const key = 'one-key-two-bodies';
    const first = await launch(user, 0, { product: 'autocad' }, key);
    expect(expectStatus(first, 200).charged).toBe(AUTOCAD);
    for (const [i, other] of [
      [0, { product: 'revit' }],
      [1, { product: 'revit' }],
      [1, { product: 'autocad', machine: 'another' }],
    ] as const) {
      const answer = await launch(user, i, other, key);
      expect(answer.status, JSON.stringify(answer.body)).toBe(409);
      expect(answer.body.code).toBe('conflict');
    }
    // Concurrently too: every other body is refused, every same body replays.
    const mixed = await Promise.all(
      Array.from({ length: 40 }, (_, k) => launch(user, k % 2, k % 4 < 2 ? { product: 'revit' } : { product: 'autocad' }, key)),
    );
    mixed.forEach((a, k) => {
      if (k % 4 < 2) expect(a.status).toBe(409);
      else expect(a.text).toBe(first.text);
    });
    expect(await chargesOf(team)).toHaveLength(1);
    expect(await balanceOf(viaInstance(gws[1] as Instance), team)).toBe(100 - AUTOCAD);
  });

  it('purchases and transfers: a key replays its first answer on either instance; another body is a 409 and moves nothing', async () => {
    const { team } = await member(100);
    const other = await newTeam(viaInstance(gws[0] as Instance), 0);
    const op = (i: number) => viaInstance(gws[i] as Instance).op;
    const bought = await op(0).post(`/v1/teams/${team}/purchases`, { tokens: 50 }, { 'idempotency-key': 'buy-1' });
    expect(bought.status, bought.text).toBe(201);
    expect((await op(1).post(`/v1/teams/${team}/purchases`, { tokens: 50 }, { 'idempotency-key': 'buy-1' })).text).toBe(bought.text);
    const twice = await op(1).post(`/v1/teams/${team}/purchases`, { tokens: 500 }, { 'idempotency-key': 'buy-1' });
    expect(twice.status, twice.text).toBe(409);
    const moved = await op(0).post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 30 }, { 'idempotency-key': 'move-1' });
    expect(moved.status, moved.text).toBe(201);
    expect((await op(1).post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 30 }, { 'idempotency-key': 'move-1' })).text).toBe(
      moved.text,
    );
    const more = await op(1).post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 90 }, { 'idempotency-key': 'move-1' });
    expect(more.status, more.text).toBe(409);
    expect(await balanceOf(viaInstance(gws[1] as Instance), team)).toBe(120);
    expect(await balanceOf(viaInstance(gws[1] as Instance), other)).toBe(30);

    // A retried purchase whose copies arrive together, on both instances: one lot, one answer.
    const burst = await Promise.all(
      Array.from({ length: 16 }, (_, i) => op(i % 2).post(`/v1/teams/${team}/purchases`, { tokens: 40 }, { 'idempotency-key': 'buy-2' })),
    );
    expect(new Set(burst.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
    expect(burst[0]?.status).toBe(201);
    expect(await balanceOf(viaInstance(gws[1] as Instance), team)).toBe(160);
    await expectLedgerMatchesBalance(viaInstance(gws[1] as Instance), team);

    // A retried transfer likewise (R3): one move, one answer, whichever copy commits first.
    const moves = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        op(i % 2).post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 25 }, { 'idempotency-key': 'move-2' }),
      ),
    );
    expect(new Set(moves.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
    expect(moves[0]?.status).toBe(201);
    expect(await balanceOf(viaInstance(gws[1] as Instance), team)).toBe(135);
    expect(await balanceOf(viaInstance(gws[0] as Instance), other)).toBe(55);
    for (const t of [team, other]) await expectLedgerMatchesBalance(viaInstance(gws[1] as Instance), t);
  });

  it('the first launches of a key, sent at once with two bodies: one body is answered, the other is a 409, one charge', async () => {
    // Nothing is stored under the key yet: both bodies reach one charge group (one instance, one
    // turn), which must tell them apart itself rather than replay the first answer to both.
    for (let round = 0; round < 3; round++) {
      const { team, user } = await member(100);
      const bodies = [{ product: 'autocad' }, { product: 'revit' }];
      const answers = await simultaneously(
        Array.from({ length: 20 }, (_, k) => ({
          api: (gws[0] as Instance).anon.as(user.api.token as string),
          method: 'POST',
          path: '/v1/launch',
          body: bodies[k % 2],
          headers: { 'idempotency-key': `two-bodies-at-once-${round}` },
        })),
      );
      const byBody = [0, 1].map((b) => answers.filter((_, k) => k % 2 === b));
      const winner = byBody.findIndex((as) => as[0]?.status === 200);
      expect(winner, `round ${round}: ${answers.map((a) => a.status).join(' ')}`).toBeGreaterThanOrEqual(0);
      const won = byBody[winner] as Answer[];
      const lost = byBody[1 - winner] as Answer[];
      expect(new Set(won.map((a) => a.text)).size, 'one answer to the body that won').toBe(1);
      const rate = winner === 0 ? AUTOCAD : 10;
      expect(won[0]?.body.charged).toBe(rate);
      expect(decodeJwt(won[0]?.body.entitlement).product).toBe(bodies[winner]?.product);
      expect(lost.map((a) => `${a.status} ${a.body.code}`)).toEqual(lost.map(() => '409 conflict'));
      expect((await chargesOf(team)).map((e) => e.tokens)).toEqual([-rate]);
      expect(await balanceOf(viaInstance(gws[1] as Instance), team)).toBe(100 - rate);
    }
  });

  it('a refusal is not kept under its key: launches of one key sent at once on too few tokens are each a 403, and the key launches once tokens are bought', async () => {
    // All reach one charge group: the twins of a refused launch are refused alike, not replayed.
    const { team, user } = await member(5);
    const key = 'short-then-bought';
    const answers = await simultaneously(
      Array.from({ length: 20 }, () => ({
        api: (gws[0] as Instance).anon.as(user.api.token as string),
        method: 'POST',
        path: '/v1/launch',
        body: { product: 'autocad' },
        headers: { 'idempotency-key': key },
      })),
    );
    expect(answers.map((a) => `${a.status} ${a.body.code}`)).toEqual(answers.map(() => '403 insufficient-tokens'));
    expect(await chargesOf(team)).toEqual([]);
    await buy(viaInstance(gws[1] as Instance), team, 10);
    const after = await launch(user, 1, { product: 'autocad' }, key);
    expect(after.status).toBe(200);
    expect(after.body.charged).toBe(AUTOCAD);
    expect(await balanceOf(viaInstance(gws[0] as Instance), team)).toBe(15 - AUTOCAD);
  });

  it("keys are per user: another user sending the same key gets an answer of their own, never the first user's", async () => {
    const one = await member(100);
    const two = await member(100);
    const key = 'a-key-two-users-picked';
    const first = expectStatus(await launch(one.user, 0, { product: 'autocad' }, key), 200);
    const other = await launch(two.user, 1, { product: 'autocad' }, key);
    expect(expectStatus(other, 200)).toMatchObject({ charged: AUTOCAD, team: two.team });
    expect(other.body.session.id).not.toBe(first.session.id);
    expect(decodeJwt(other.body.entitlement).sub).toBe(two.user.autodeskId);
    // Each key replays its own user's answer, on either instance; each team paid once.
    for (const i of [0, 1]) {
      expect((await launch(two.user, i, { product: 'autocad' }, key)).text).toBe(other.text);
      expect((await launch(one.user, i, { product: 'autocad' }, key)).body.session.id).toBe(first.session.id);
    }
    for (const t of [one.team, two.team]) expect((await chargesOf(t)).map((e) => e.tokens)).toEqual([-AUTOCAD]);
  });

  it('a key whose answer was stored replays it after its session was ended (refunded) and a new one opened', async () => {
    const { team, user } = await member(100);
    const key = 'kept-after-the-session-ended';
    const first = await launch(user, 0, { product: 'autocad' }, key);
    expect(first.status).toBe(200);
    const s1 = first.body.session.id as string;

    // R7a: closed within 5 minutes, the day is free and the session void; the next launch opens another.
    const ended = expectStatus(await (gws[1] as Instance).anon.as(user.api.token as string).post(`/v1/sessions/${s1}/end`), 200);
    expect(ended).toMatchObject({ session: s1, refunded: AUTOCAD, charged: 0 });
    const second = expectStatus(await launch(user, 1, { product: 'autocad' }, 'a-new-launch'), 200);
    expect(second.session.id).not.toBe(s1);
    expect(second.charged).toBe(AUTOCAD);

    // The first key still answers what it answered, on both instances, and charges nothing more.
    for (const i of [0, 1]) {
      const replay = await launch(user, i, { product: 'autocad' }, key);
      expect(replay.status).toBe(200);
      expect(replay.text).toBe(first.text);
    }
    const charges = await chargesOf(team);
    expect(charges.map((e) => e.sessionId)).toEqual([s1, second.session.id]);
    expect(await balanceOf(viaInstance(gws[0] as Instance), team)).toBe(100 - AUTOCAD);
    await expectLedgerMatchesBalance(viaInstance(gws[1] as Instance), team);
  });
});
