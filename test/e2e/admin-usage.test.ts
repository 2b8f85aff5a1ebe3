import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, parseCsvText, tokenOf, uniqueEmail } from '../harness/admin';
import { buy, expectLedgerMatchesBalance, ledgerOf, newMember, newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { usageFromLedger } from '../harness/usage';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const HOUR = 3_600_000;
const at = (ms: number) => new Date(T0.getTime() + ms);

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

describe('usage reports (R15)', () => {
  it("R15: usage by user, product and day, and a CSV with Flex's columns whose totals equal the ledger to the token", async () => {
    await setClock(gw, T0);
    const team = await newTeam(gw, 500);
    const admin = await newAdmin(gw, [team]);
    const u1 = await newMember(gw, team, 'all');
    // A name that needs quoting and is not ASCII, through the invitation path.
    const zoe = uniqueEmail('zoe');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Zoë O'Neil, Jr <${zoe}>`, allProducts: true }), 201);
    const token = tokenOf((await mailsTo(gw, zoe))[0].text);
    expectStatus(await gw.anon.post('/v1/invitations/accept', { token, password: 'zoe-password' }), 200);
    const u2 = await signIn(gw, { autodeskId: zoe, password: 'zoe-password' });

    // Day 1: u1 AutoCAD 7 + Revit 10, u2 AutoCAD 7, u2 Maya closed within 5 minutes (refunded, R7a).
    for (const [u, p] of [
      [u1, 'autocad'],
      [u1, 'revit'],
      [u2, 'autocad'],
    ] as const)
      expectStatus(await u.api.post('/v1/launch', { product: p }), 200);
    const maya = expectStatus(await u2.api.post('/v1/launch', { product: 'maya' }), 200);
    expect(expectStatus(await u2.api.post(`/v1/sessions/${maya.session.id}/end`), 200).refunded).toBe(9);
    // Day 2: u1 AutoCAD again. Day 3: u2 Revit.
    await setClock(gw, at(25 * HOUR));
    expectStatus(await u1.api.post('/v1/launch', { product: 'autocad' }), 200);
    await setClock(gw, at(49 * HOUR));
    expectStatus(await u2.api.post('/v1/launch', { product: 'revit' }), 200);

    const q = `/v1/teams/${team}/usage?from=2026-03-15&to=2026-03-17`;
    const byUser = expectStatus(await admin.api.get(`${q}&by=user`), 200);
    expect(byUser.rows).toEqual(
      [
        { key: u1.autodeskId, tokens: 24, sessions: 3 },
        { key: zoe, tokens: 17, sessions: 2 },
      ].sort((a, b) => (a.key < b.key ? -1 : 1)),
    );
    expect(byUser.total).toEqual({ tokens: 41, sessions: 5 });
    expect(expectStatus(await admin.api.get(`${q}&by=product`), 200).rows).toEqual([
      { key: 'autocad', tokens: 21, sessions: 3 },
      { key: 'revit', tokens: 20, sessions: 2 },
    ]);
    expect(expectStatus(await admin.api.get(`${q}&by=day`), 200).rows).toEqual([
      { key: '2026-03-15', tokens: 24, sessions: 3 },
      { key: '2026-03-16', tokens: 7, sessions: 1 },
      { key: '2026-03-17', tokens: 10, sessions: 1 },
    ]);
    expect(expectStatus(await admin.api.get(`/v1/teams/${team}/usage?from=2026-03-16&to=2026-03-16&by=day`), 200).rows).toEqual([
      { key: '2026-03-16', tokens: 7, sessions: 1 },
    ]);
    // Without bounds: the last 30 whole UTC days, today (2026-03-17) included, as the console shows them.
    const recent = expectStatus(await admin.api.get(`/v1/teams/${team}/usage?by=day`), 200);
    expect(recent).toMatchObject({ from: '2026-02-16T00:00:00.000Z', to: '2026-03-18T00:00:00.000Z', total: { tokens: 41, sessions: 5 } });
    expect(recent.rows).toEqual(expectStatus(await admin.api.get(`${q}&by=day`), 200).rows);

    // The ledger says the same, to the token: charges net of refunds.
    const ledger = await ledgerOf(gw, team);
    const consumed = -ledger.filter((e) => e.kind === 'charge' || e.kind === 'refund').reduce((s, e) => s + e.tokens, 0);
    expect(consumed).toBe(41);

    const csvRes = await admin.api.get(q, { accept: 'text/csv' });
    expect(csvRes.status).toBe(200);
    expect(csvRes.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csvRes.headers.get('content-disposition')).toMatch(/attachment; filename=".+\.csv"/);
    const [header, ...rows] = parseCsvText(csvRes.body as unknown as string);
    expect(header).toEqual(['Day used', 'Email', 'First name', 'Last name', 'Product', 'Team', 'Tokens used']);
    expect(rows.reduce((s, r) => s + Number(r[6]), 0)).toBe(consumed);
    expect(rows).toContainEqual(['2026-03-15', zoe, 'Zoë', "O'Neil, Jr", 'AutoCAD', expect.any(String), '7']);
    expect(rows.some((r) => r[4] === 'Maya')).toBe(false);
    expect(csvRes.body).toContain(`"O'Neil, Jr"`);
    expect(rows.every((r) => r.length === 7 && /^2026-03-1[5-7]$/.test(r[0]!))).toBe(true);
    const viaFormat = await admin.api.get(`${q}&format=csv`);
    expect(viaFormat.body).toBe(csvRes.body);

    const backwards = await admin.api.get(`/v1/teams/${team}/usage?from=2026-03-17&to=2026-03-01`);
    expect(backwards.status).toBe(400);
    // The days as asked (to is the last day included), not the instants the range becomes.
    expect(backwards.body.detail).toBe('The range is empty: from 2026-03-17 is after its last day, 2026-03-01.');
    expect((await admin.api.get(`/v1/teams/${team}/usage?by=week`)).status).toBe(400);
    // The last days the API takes (years to 9999) are a range like any: empty of use, not refused.
    const farthest = await admin.api.get(`/v1/teams/${team}/usage?from=9999-12-30&to=9999-12-31`);
    expect([farthest.status, farthest.body.total]).toEqual([200, { tokens: 0, sessions: 0 }]);
    await expectLedgerMatchesBalance(gw, team);
  });

  it('R15: a report names people as this team knows them, never by the name another team gave them', async () => {
    await setClock(gw, T0);
    const team = await newTeam(gw, 100);
    const other = await newTeam(gw);
    const u = await newMember(gw, team, ['autocad']);
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    // Gone from this team since; the report still has their use, under their account's name.
    expect((await gw.op.delete(`/v1/teams/${team}/members/${encodeURIComponent(u.autodeskId)}`)).status).toBe(204);
    const report = async () => (await gw.op.get(`/v1/teams/${team}/usage?from=2026-03-15&to=2026-03-15`, { accept: 'text/csv' })).body;
    const before = await report();
    expect(before).toContain(u.autodeskId);
    expectStatus(await gw.op.post(`/v1/teams/${other}/members`, { invite: `Alias Elsewhere <${u.autodeskId}>` }), 201);
    expect(await report()).toBe(before);
  });

  it('R15: the summary: available, used and bought add up, token events of the last 90 days, tokens per day', async () => {
    await setClock(gw, T0);
    const team = await newTeam(gw, 300);
    const admin = await newAdmin(gw, [team]);
    const u = await newMember(gw, team, ['revit', 'autocad']);
    expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
    await setClock(gw, at(30 * HOUR));
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);

    const s = expectStatus(await admin.api.get(`/v1/teams/${team}/usage/summary`), 200);
    expect(s).toMatchObject({ available: 283, used: 17, bought: 300 });
    expect(s.bought - s.used).toBe(s.available);
    expect(s.events).toEqual([expect.objectContaining({ kind: 'purchase', tokens: 300 })]);
    expect(s.perDay).toEqual([
      { day: '2026-03-15', tokens: 10, sessions: 1 },
      { day: '2026-03-16', tokens: 7, sessions: 1 },
    ]);
  });

  it('R15: used and bought are what the ledger says of the valid lots, with expiries, transfers both ways and refunds', async () => {
    await setClock(gw, T0);
    const team = await newTeam(gw);
    const other = await newTeam(gw, 200);
    const third = await newTeam(gw);
    // Bought 364 days ago: these lots expire within two days, with what they took and gave.
    await buy(gw, team, 60, at(-364 * 24 * HOUR).toISOString());
    await buy(gw, third, 50, at(-364 * 24 * HOUR).toISOString());
    await buy(gw, team, 300);
    const u = await newMember(gw, team, 'all');
    try {
      expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
      const maya = expectStatus(await u.api.post('/v1/launch', { product: 'maya' }), 200);
      expect(expectStatus(await u.api.post(`/v1/sessions/${maya.session.id}/end`), 200).refunded).toBe(9);
      expectStatus(await gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: third, tokens: 20 }), 201);
      expectStatus(await gw.op.post(`/v1/teams/${other}/transfers`, { toTeam: team, tokens: 40 }), 201);
      expectStatus(await gw.op.post(`/v1/teams/${team}/transfers`, { toTeam: other, tokens: 50 }), 201);
      expectStatus(await gw.op.post(`/v1/teams/${third}/transfers`, { toTeam: team, tokens: 30 }), 201);
      await setClock(gw, at(30 * HOUR));
      expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
      await setClock(gw, at(48 * HOUR));
      expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
      const maya2 = expectStatus(await u.api.post('/v1/launch', { product: 'maya' }), 200);
      expectStatus(await u.api.post(`/v1/sessions/${maya2.session.id}/end`), 200);

      for (const t of [team, other, third]) {
        const s = expectStatus(await gw.op.get(`/v1/teams/${t}/usage/summary`), 200);
        const entries = await ledgerOf(gw, t);
        const { lots } = expectStatus(await gw.op.get(`/v1/teams/${t}/balance`), 200);
        const valid = new Set(lots.filter((l: { expired: boolean }) => !l.expired).map((l: { id: string }) => l.id));
        const of = (kinds: string[]) =>
          entries.filter((e) => valid.has(e.lotId) && kinds.includes(e.kind)).reduce((n: number, e) => n + e.tokens, 0);
        const expected = { bought: of(['purchase', 'transfer-in', 'transfer-out']), used: 0 - of(['charge', 'refund']) };
        expect({ bought: s.bought, used: s.used }, `team ${t}`).toEqual(expected);
        expect(s.bought - s.used, `team ${t}`).toBe(s.available);
        // Per day: two whole days (the rollups) and today up to now (the ledger), refunds on both.
        const perDay = usageFromLedger(entries, 'day').map((r) => ({ day: r.key, tokens: r.tokens, sessions: r.sessions }));
        expect(s.perDay, `team ${t}`).toEqual(perDay);
      }
      // The history above has every kind of entry, on lots still valid and on lots now expired.
      const kinds = new Set((await ledgerOf(gw, team)).map((e) => e.kind));
      expect([...kinds].sort()).toEqual(['charge', 'expiry', 'purchase', 'refund', 'transfer-in', 'transfer-out']);
      // Valid: 300 bought and 40 moved in, less the 17 of the 50 moved out that the expiring lot lacked;
      // used: Revit 10 and AutoCAD 7 after the expiry (the first AutoCAD drew on the expired lot).
      const s = expectStatus(await gw.op.get(`/v1/teams/${team}/usage/summary`), 200);
      expect(s).toMatchObject({ bought: 323, used: 17, available: 306 });
    } finally {
      await setClock(gw, T0);
    }
  });

  it('R2/R15: an expiry that came due shows in the summary at once, whichever read comes first', async () => {
    await setClock(gw, T0);
    const team = await newTeam(gw, 100);
    const admin = await newAdmin(gw, [team]);
    // Bought 364 days ago: it runs out within two days, and nothing else reads the team meanwhile.
    await buy(gw, team, 10, at(-364 * 24 * HOUR).toISOString());
    await setClock(gw, at(48 * HOUR));
    try {
      const s = expectStatus(await admin.api.get(`/v1/teams/${team}/usage/summary`), 200);
      expect(s).toMatchObject({ available: 100, bought: 100 });
      expect(s.events.filter((e: { kind: string }) => e.kind === 'expiry').map((e: { tokens: number }) => e.tokens)).toEqual([-10]);
    } finally {
      await setClock(gw, T0);
    }
  });
});
