import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseCsvText } from '../harness/admin';
import { buy, ledgerOf, newMember, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { usageFromLedger } from '../harness/usage';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

it('R15: reports over whole days (served from the daily rollups) equal the ledger, refunds and lot spans included', async () => {
  await setClock(gw, '2026-05-01T08:00:00Z');
  const team = await newTeam(gw);
  await buy(gw, team, 12, '2026-01-01T00:00:00Z'); // small old lot: the first charge spans two lots
  await buy(gw, team, 500, '2026-04-01T00:00:00Z');
  const ann = await newMember(gw, team, ['autocad', 'revit']);
  const bob = await newMember(gw, team, 'all');
  for (const [day, hour] of [
    ['2026-05-01', '09'],
    ['2026-05-02', '23'],
    ['2026-05-04', '00'],
  ] as const) {
    await setClock(gw, `${day}T${hour}:00:00Z`);
    expectStatus(await ann.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await ann.api.post('/v1/launch', { product: 'revit' }), 200);
    const maya = expectStatus(await bob.api.post('/v1/launch', { product: 'maya' }), 200);
    if (day === '2026-05-02') expectStatus(await bob.api.post(`/v1/sessions/${maya.session.id}/end`), 200); // R7a refund
  }
  // Opened at 23:58, refunded at 00:01: the refund is dated on the next day, and counts on the first.
  await setClock(gw, '2026-05-04T23:58:00Z');
  const late = expectStatus(await bob.api.post('/v1/launch', { product: 'revit' }), 200);
  await setClock(gw, '2026-05-05T00:01:00Z');
  expect(expectStatus(await bob.api.post(`/v1/sessions/${late.session.id}/end`), 200).refunded).toBe(10);
  const entries = await ledgerOf(gw, team);
  expect(entries.some((e) => e.kind === 'refund')).toBe(true);
  expect(entries.find((e) => e.kind === 'refund' && e.sessionId === late.session.id)?.at).toMatch(/^2026-05-05T00:01/);
  for (const by of ['day', 'user', 'product'] as const) {
    const report = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=${by}&from=2026-04-30&to=2026-05-05`), 200);
    expect(report.rows, `by=${by}`).toEqual(usageFromLedger(entries, by));
  }
  // A range that is not whole days is answered from the ledger; a whole-day one from the rollups: same numbers.
  const exact = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-02T00:00:00.001Z&to=2026-05-03T00:00:00Z`), 200);
  const rolled = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-02&to=2026-05-02`), 200);
  expect(exact.rows).toEqual(rolled.rows);
  // Whole days at one end only: those days from the rollups, the part day from the ledger. The
  // launches at 00:00 on 4 May count, the one at 23:58 (refunded, so nothing either way) is past noon.
  const halfDay = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-02&to=2026-05-04T12:00:00Z`), 200);
  const wholeDays = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-02&to=2026-05-04`), 200);
  expect(halfDay.rows.map((r: { key: string }) => r.key)).toContain('2026-05-04');
  expect(halfDay.rows).toEqual(wholeDays.rows);
  // Across the midnight of the late refund too, and neither day below zero. The range starts a
  // millisecond before the day, not after: that day's launches ran at its midnight, which the test
  // clock may not have passed by a millisecond yet.
  const exactLate = expectStatus(
    await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-03T23:59:59.999Z&to=2026-05-06T00:00:00Z`),
    200,
  );
  const rolledLate = expectStatus(await gw.op.get(`/v1/teams/${team}/usage?by=day&from=2026-05-04&to=2026-05-05`), 200);
  expect(exactLate.rows).toEqual(rolledLate.rows);
  for (const r of rolledLate.rows) expect(r.tokens).toBeGreaterThanOrEqual(0);
  // A usage counts at its charge's instant, whatever the range's ends: the ledger is read 5 minutes
  // past `to` for the refunds of charges before it, and nothing of those 5 minutes may count itself.
  for (const [from, to] of [
    ['2026-05-04T23:59:00Z', '2026-05-05T12:00:00Z'], // Bob's charge of 23:58 just before, its refund of 00:01 inside
    ['2026-05-03T00:00:00Z', '2026-05-03T23:59:00Z'], // the launches of 4 May's midnight just after
  ]) {
    const q = `/v1/teams/${team}/usage?from=${from}&to=${to}`;
    for (const by of ['day', 'user', 'product'] as const)
      expect(expectStatus(await gw.op.get(`${q}&by=${by}`), 200).rows, `${from} by=${by}`).toEqual([]);
    const [, ...csvRows] = parseCsvText(expectStatus(await gw.op.get(`${q}&format=csv`), 200) as string);
    expect(csvRows, `${from} as CSV`).toEqual([]);
  }
});
