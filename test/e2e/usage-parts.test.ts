/**
 * R15: a usage report read in parts (part days from the ledger, runs of whole days from the rollups,
 * a turn of the event loop between them) answers byte for byte what one statement over the range
 * answered: the ledger's for a range with part days, the rollups' for whole days. On both engines,
 * over refunds (one across midnight), a charge drawn on two lots, several products and a team beside.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Database } from '../../gateway/src/db/connect';
import { type UsageGrouping, usageFromLedger, usageFromRollups } from '../../gateway/src/db/repos/usage';
import { newAdmin } from '../harness/admin';
import { buy, ledgerOf, newMember, newTeam, seedCatalog, setClock, signIn, type TestUser } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Api, expectStatus } from '../harness/http';
import { usageFromLedger as usageOfEntries } from '../harness/usage';

let gw: TestGateway;
let db: Database;
let team: string;
let other: string;
let admin: Api;
const DAY0 = Date.parse('2026-04-01T00:00:00Z');
const at = (day: number, hhmm: string) => new Date(DAY0 + day * 86_400_000 + Date.parse(`1970-01-01T${hhmm}:00Z`));
const NOW = at(6, '12:00');

/**
 * `usageBy` as it was when a report was one statement (one over the ledger for a range with part
 * days, one over the rollups for whole days; by day, each part day at an end from the ledger).
 */
async function oneStatement(teamId: string, fromIso: string, toIso: string, by: UsageGrouping) {
  const MIDNIGHT = 'T00:00:00.000Z';
  const nextMidnight = (i: string) => new Date(Date.parse(`${i.slice(0, 10)}${MIDNIGHT}`) + 86_400_000).toISOString();
  const firstDay = fromIso.endsWith(MIDNIGHT) ? fromIso : nextMidnight(fromIso);
  const lastDay = `${toIso.slice(0, 10)}${MIDNIGHT}`;
  if (firstDay === fromIso && lastDay === toIso) return usageFromRollups(db.db, teamId, fromIso.slice(0, 10), toIso.slice(0, 10), by);
  if (by === 'day' && firstDay < lastDay) {
    const head = firstDay === fromIso ? [] : await usageFromLedger(db.db, teamId, fromIso, firstDay, by);
    const days = await usageFromRollups(db.db, teamId, firstDay.slice(0, 10), lastDay.slice(0, 10), by);
    const tail = lastDay === toIso ? [] : await usageFromLedger(db.db, teamId, lastDay, toIso, by);
    return [...head, ...days, ...tail];
  }
  return usageFromLedger(db.db, teamId, fromIso, toIso, by);
}

/** The response the service built from `oneStatement`'s rows, serialized as the route does. */
async function answerOf(teamId: string, from: string, to: string, by: UsageGrouping) {
  const rows = (await oneStatement(teamId, from, to, by)).filter((x) => x.tokens !== 0 || x.sessions !== 0);
  const total = rows.reduce((t, x) => ({ tokens: t.tokens + x.tokens, sessions: t.sessions + x.sessions }), { tokens: 0, sessions: 0 });
  return JSON.stringify({ team: teamId, from, to, by, rows, total });
}

/** A launch at `when` (signed in again: the clock moves days), ended within the free 5 minutes when `refundAt` is given (R7a). */
async function launch(who: TestUser, product: string, when: Date, refundAt?: Date) {
  await setClock(gw, when);
  const api = (await signIn(gw, { autodeskId: who.autodeskId, password: who.password })).api;
  const l = expectStatus(await api.post('/v1/launch', { product }), 200);
  if (refundAt) {
    await setClock(gw, refundAt);
    expect(expectStatus(await api.post(`/v1/sessions/${l.session.id}/end`), 200).refunded).toBeGreaterThan(0);
  }
}

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, at(0, '00:00'));
  await seedCatalog(gw);
  // 12 tokens, then 500: the second launch (Revit, 10) draws on both lots, two entries of one session.
  team = await newTeam(gw, 12);
  await buy(gw, team, 500);
  other = await newTeam(gw, 500);
  admin = (await newAdmin(gw, [team, other])).api;
  const u = await Promise.all([0, 1, 2, 3].map(() => newMember(gw, team, 'all')));
  const v = await Promise.all([0, 1].map(() => newMember(gw, other, 'all')));
  const [u0, u1, u2, u3] = u as [TestUser, TestUser, TestUser, TestUser];
  const [v0, v1] = v as [TestUser, TestUser];
  await launch(u0, 'autocad', at(0, '09:00'));
  await launch(u1, 'revit', at(0, '09:10'));
  await launch(u2, 'maya', at(0, '09:20'), at(0, '09:22'));
  await launch(v0, 'autocad', at(0, '12:00'));
  // Refunded after midnight: it counts on its charge's day (R7a).
  await launch(u3, 'autocad', at(0, '23:57'), at(1, '00:01'));
  await launch(u0, 'revit', at(1, '10:00'));
  await launch(u1, 'autocad', at(1, '10:05'));
  await launch(u2, 'civil-3d', at(1, '23:59'));
  await launch(u1, 'maya', at(2, '00:00'));
  await launch(u3, 'revit', at(2, '12:30'), at(2, '12:33'));
  await launch(v1, 'revit', at(2, '23:58'), at(3, '00:02'));
  await launch(u0, 'maya', at(3, '08:00'));
  await launch(u2, 'autocad', at(3, '08:01'));
  await launch(v0, 'maya', at(4, '01:00'));
  await launch(u1, 'revit', at(4, '15:00'));
  await launch(u3, 'civil-3d', at(4, '15:30'));
  await launch(u0, 'autocad', at(5, '06:00'));
  await launch(u2, 'revit', at(6, '11:00'), at(6, '11:03'));
  await setClock(gw, NOW);
  db = connect({ url: gw.database.url });
});
afterAll(async () => {
  await db?.close();
  await gw?.close();
});

// Part days at either end or both, whole days, a range inside a day, one across a midnight, one to now.
const RANGES: [string, string][] = [
  ['2026-04-01T09:05:00.000Z', '2026-04-05T15:10:00.000Z'],
  ['2026-04-01T23:58:00.000Z', '2026-04-04T00:01:00.000Z'],
  ['2026-04-01T00:00:00.000Z', '2026-04-07T00:00:00.000Z'],
  ['2026-03-20T00:00:00.000Z', '2026-04-04T12:00:00.000Z'],
  ['2026-04-02T12:00:00.000Z', '2026-04-08T00:00:00.000Z'],
  ['2026-04-03T00:00:00.000Z', '2026-04-03T00:00:01.000Z'],
  ['2026-04-01T23:00:00.000Z', '2026-04-02T01:00:00.000Z'],
  ['2026-04-01T00:00:00.000Z', NOW.toISOString()],
];

describe('R15: a usage report read in parts', () => {
  it('R15: by user, product and day, every range answers what one statement over it answered, byte for byte', async () => {
    const entries = await ledgerOf(gw, team);
    expect(entries.filter((e) => e.kind === 'refund').length).toBe(4);
    // The charge drawn on two lots: two entries, one session.
    const charges = entries.filter((e) => e.kind === 'charge');
    expect(new Set(charges.map((e) => e.sessionId)).size).toBe(charges.length - 1);
    for (const t of [team, other])
      for (const [from, to] of RANGES)
        for (const by of ['user', 'product', 'day'] as const) {
          const r = await admin.get(`/v1/teams/${t}/usage?${new URLSearchParams({ from, to, by })}`);
          expect(r.status).toBe(200);
          expect(r.text, `${t} ${from} ${to} ${by}`).toBe(await answerOf(t, from, to, by));
        }
    // And what the ledger says, worked out by the test: the same figures.
    const all = expectStatus(await admin.get(`/v1/teams/${team}/usage?by=user&from=2026-03-20T00:00:00Z&to=${NOW.toISOString()}`), 200);
    expect(all.rows).toEqual(usageOfEntries(await ledgerOf(gw, team), 'user'));
  });

  it("R15: the summary's tokens per day are what one statement over its 90 days answered", async () => {
    for (const t of [team, other]) {
      const s = expectStatus(await admin.get(`/v1/teams/${t}/usage/summary`), 200);
      const since = new Date(NOW.getTime() - 90 * 86_400_000).toISOString();
      const perDay = (await oneStatement(t, since, NOW.toISOString(), 'day')).map((d) => ({
        day: d.key,
        tokens: d.tokens,
        sessions: d.sessions,
      }));
      expect(s.perDay, t).toEqual(perDay);
      expect(s.perDay.length, t).toBeGreaterThan(2);
    }
  });
});
