import { describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { balanceOf, buy, ledgerOf, newMember, setClock } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;

const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

describe('transfers (R3)', () => {
  it('R3: tokens move oldest lots first and keep the expiry of the lot they came from, with ledger entries on both sides', async () => {
    const a = await team();
    const b = await team(20);
    const old = await buy(gw, a, 100, new Date(T0.getTime() - 200 * DAY).toISOString());
    const recent = await buy(gw, a, 100);
    const admin = (await newAdmin(gw, [a, b])).api;

    const moved = expectStatus(await admin.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 150 }), 201);
    expect(moved).toMatchObject({ from: a, to: b, tokens: 150 });
    expect(moved.lots.map((l: any) => [l.fromLot, l.tokens, l.expiresAt])).toEqual([
      [old.lotId, 100, old.expiresAt],
      [recent.lotId, 50, recent.expiresAt],
    ]);
    expect(await balanceOf(gw, a)).toBe(50);
    expect(await balanceOf(gw, b)).toBe(170);

    const lotsB = expectStatus(await admin.get(`/v1/teams/${b}/balance`), 200).lots;
    for (const part of moved.lots) {
      const lot = lotsB.find((l: any) => l.id === part.toLot);
      expect(lot).toMatchObject({ tokens: part.tokens, remaining: part.tokens, expiresAt: part.expiresAt });
    }
    expect(lotsB.find((l: any) => l.id === moved.lots[0].toLot).purchasedAt).toBe(old.purchasedAt);

    const outs = (await ledgerOf(gw, a)).filter((e) => e.kind === 'transfer-out');
    const ins = (await ledgerOf(gw, b)).filter((e) => e.kind === 'transfer-in');
    expect(outs.map((e) => e.tokens)).toEqual([-100, -50]);
    expect(ins.map((e) => e.tokens)).toEqual([100, 50]);
    expect(ins.every((e) => e.actor.startsWith('admin:'))).toBe(true);

    // R2 on the target: the moved tokens that expire first are drawn first.
    const u = await newMember(gw, b, ['revit']);
    expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
    const after = expectStatus(await admin.get(`/v1/teams/${b}/balance`), 200).lots;
    expect(after.find((l: any) => l.id === moved.lots[0].toLot).remaining).toBe(90);

    // Moved tokens still die on their original day.
    await setClock(gw, new Date(Date.parse(old.expiresAt) + 1000));
    expect(await balanceOf(gw, b)).toBe(70);
  });

  it('R3: a transfer needs enough valid tokens, two different teams, and an admin of both', async () => {
    const a = await team(30);
    const b = await team();
    const both = (await newAdmin(gw, [a, b])).api;
    const onlyA = (await newAdmin(gw, [a])).api;

    const short = await both.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 31 });
    expect(short.status).toBe(409);
    expect(short.body.detail).toMatch(/30 valid tokens/);
    expect((await both.post(`/v1/teams/${a}/transfers`, { toTeam: a, tokens: 1 })).status).toBe(400);
    expect((await onlyA.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 1 })).status).toBe(403);
    expect((await onlyA.post(`/v1/teams/${a}/transfers`, { toTeam: 'tm_does_not_exist', tokens: 1 })).status).toBe(403);
    expect((await gw.op.post(`/v1/teams/${a}/transfers`, { toTeam: 'tm_does_not_exist', tokens: 1 })).status).toBe(404);
    expect(await balanceOf(gw, a)).toBe(30);
    expect(await balanceOf(gw, b)).toBe(0);
  });

  it("R3: a lot's single last token moves like any other", async () => {
    const a = await team(8);
    const b = await team();
    const admin = (await newAdmin(gw, [a, b])).api;
    const u = await newMember(gw, a, ['autocad']);
    expect(expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ charged: 7, balance: 1 });
    const moved = expectStatus(await admin.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 1 }), 201);
    expect(moved.lots.map((l: any) => l.tokens)).toEqual([1]);
    expect(await balanceOf(gw, a)).toBe(0);
    expect(await balanceOf(gw, b)).toBe(1);
  });

  it('R3: concurrent transfers and launches never overdraw a lot (R4)', async () => {
    const a = await team(100);
    const b = await team();
    const admin = (await newAdmin(gw, [a, b])).api;
    const users = await Promise.all(Array.from({ length: 5 }, () => newMember(gw, a, ['revit'])));
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => admin.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 15 })),
      ...users.map((u) => u.api.post('/v1/launch', { product: 'revit' })),
    ]);
    const moved = results.slice(0, 6).filter((r) => r.status === 201).length * 15;
    const charged = results.slice(6).filter((r) => r.status === 200).length * 10;
    for (const r of results) expect([200, 201, 403, 409]).toContain(r.status);
    expect(moved + charged).toBeLessThanOrEqual(100);
    expect(await balanceOf(gw, a)).toBe(100 - moved - charged);
    expect(await balanceOf(gw, b)).toBe(moved);
  });
});
