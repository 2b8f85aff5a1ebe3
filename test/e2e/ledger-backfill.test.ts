import { randomBytes } from 'node:crypto';
import { connect, migrate } from '@flexgate/gateway';
import { GENESIS_HASH, type LedgerEntry, verifyChain } from '@flexgate/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { runFlexgate } from '../harness/client-e2e';
import { freshDatabase, type TestDatabase } from '../harness/db';
import { Api, expectStatus } from '../harness/http';
import { type GatewayProcess, spawnGateway } from '../harness/process';

/**
 * Migration 017 on a database that already has a ledger: the entries written before it are
 * chained in id order per team, their ids kept, and what the gateway writes afterwards chains on.
 */

const opened: { db?: TestDatabase; proc?: GatewayProcess } = {};
afterAll(async () => {
  await opened.proc?.stop();
  await opened.db?.drop();
});

describe('migration 017 on an existing ledger (R5)', () => {
  it('chains the entries written before it, team by team in id order, and later entries chain on', async () => {
    const db = await freshDatabase();
    opened.db = db;
    const handle = connect({ url: db.url });
    try {
      await migrate(handle, '016_sent_tokens');
      const at = '2026-01-05T10:00:00.000Z';
      await handle.db
        .insertInto('teams')
        .values(['tm_old_a', 'tm_old_b'].map((id) => ({ id, name: id, created_at: at })))
        .execute();
      const lot = (id: string, team: string, tokens: number, remaining: number) => ({
        id,
        team_id: team,
        tokens,
        remaining,
        purchased_at: at,
        expires_at: '2027-01-05T10:00:00.000Z',
        origin_lot_id: null,
        created_at: at,
      });
      await handle.db
        .insertInto('lots')
        .values([lot('lot_old_a', 'tm_old_a', 50, 43), lot('lot_old_b', 'tm_old_b', 20, 20)])
        .execute();
      const entry = (team: string, lotId: string, kind: 'purchase' | 'charge', delta: number) => ({
        team_id: team,
        lot_id: lotId,
        kind,
        delta,
        at,
        actor: kind === 'purchase' ? 'operator' : 'user:ada@example.com',
        autodesk_id: kind === 'purchase' ? null : 'ada@example.com',
        product_key: null,
        session_id: null,
        reason: `${kind} before the chain`,
      });
      // Interleaved ids across the two teams, as instances wrote them.
      for (const e of [
        entry('tm_old_a', 'lot_old_a', 'purchase', 50),
        entry('tm_old_b', 'lot_old_b', 'purchase', 20),
        entry('tm_old_a', 'lot_old_a', 'charge', -7),
      ]) {
        // The ledger as it was before migration 017: no hash columns.
        await handle.db
          .insertInto('ledger')
          .values(e as any)
          .execute();
      }
      expect(await migrate(handle)).toContain('017_ledger_chain');
    } finally {
      await handle.close();
    }

    const operatorKey = `op_${randomBytes(16).toString('hex')}`;
    const proc = await spawnGateway({ databaseUrl: db.url, operatorKey });
    opened.proc = proc;
    const op = new Api(proc.url, operatorKey);
    const ledgerOf = async (team: string) => expectStatus(await op.get(`/v1/teams/${team}/ledger`), 200) as LedgerEntry[];
    const a = await ledgerOf('tm_old_a');
    expect(a.map((e) => [e.id, e.kind, e.tokens])).toEqual([
      [1, 'purchase', 50],
      [3, 'charge', -7],
    ]);
    expect(a[0]?.prevHash).toBe(GENESIS_HASH);
    expect(verifyChain(a)).toMatchObject({ ok: true, summary: { count: 2, total: 43 } });
    const b = await ledgerOf('tm_old_b');
    expect(b[0]).toMatchObject({ id: 2, prevHash: GENESIS_HASH });
    expect(verifyChain(b).ok).toBe(true);

    // After the migration: a purchase chains on from the backfilled end, and the CLI verifies it all.
    expectStatus(await op.post('/v1/teams/tm_old_a/purchases', { tokens: 10 }), 201);
    const after = await ledgerOf('tm_old_a');
    expect(after).toHaveLength(3);
    expect(after[2]).toMatchObject({ kind: 'purchase', prevHash: a[1]?.hash });
    expect(after[2]?.id).toBeGreaterThan(3);
    const run = await runFlexgate(['ledger', 'verify', '--team', 'tm_old_a', '--gateway', proc.url], { FLEXGATE_ADMIN_KEY: operatorKey });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/3 entries chain from the genesis hash .* balance of 53 tokens/s);
  }, 60_000);
});
