import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/harness/db';
import { connect, type Database, openSqliteReads } from './connect';
import { migrate } from './migrate';
import { type Read, readAll, readOne } from './reads';
import { productsRead } from './repos/catalog';
import { epochRead } from './repos/epoch';
import { answersRead } from './repos/idempotency';
import { idsRead } from './repos/ledger';
import { licensesRead } from './repos/licenses';
import { ledgerWrites, lotsRead } from './repos/lots';
import { membersRead } from './repos/members';
import { sessionRowsRead } from './repos/sessions';
import { inTransaction } from './tx';
import { writeAll } from './writes';

const at = '2026-11-01T00:00:00.000Z';
const now = '2026-12-01T10:00:00.000Z';

// Several reads sent as one statement (PostgreSQL: each a JSON-aggregated subquery) must give what
// each gives alone: the same values, types and order, or a launch would be decided on other facts.
describe.each(['sqlite', 'postgres'] as const)('readAll on %s', (engine) => {
  let store: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    store = await freshDatabase(engine);
    database = connect({ url: store.url });
    await migrate(database);
    const { db } = database;
    await db.insertInto('teams').values({ id: 't1', name: 'Team "one"', created_at: at }).execute();
    await db
      .insertInto('products')
      .values([
        { key: 'autocad', name: 'AutoCAD', daily_rate: 7, added_at: at, subscription_price_per_year: null },
        { key: 'revit', name: 'Revit', daily_rate: 10, added_at: at, subscription_price_per_year: 2_500_000 },
      ])
      .execute();
    await db
      .insertInto('licenses')
      .values([
        {
          id: 'l1',
          kind: 'trial',
          autodesk_id: 'a@example.com',
          product_key: 'autocad',
          starts_at: at,
          ends_at: '2026-12-20T00:00:00.000Z',
          created_at: at,
        },
        {
          id: 'l2',
          kind: 'subscription',
          autodesk_id: 'a@example.com',
          product_key: 'revit',
          starts_at: at,
          ends_at: '2027-06-01T00:00:00.000Z',
          created_at: at,
        },
      ])
      .execute();
    await db
      .insertInto('members')
      .values({
        team_id: 't1',
        autodesk_id: 'a@example.com',
        name: 'Ann',
        name_fold: 'ann',
        guest: 0,
        all_products: 1,
        status: 'active',
        created_at: at,
      })
      .execute();
    await db
      .insertInto('lots')
      .values([
        {
          id: 'lot1',
          team_id: 't1',
          tokens: 100,
          remaining: 93,
          purchased_at: at,
          expires_at: '2027-11-01T00:00:00.000Z',
          origin_lot_id: null,
          created_at: at,
        },
        {
          id: 'lot2',
          team_id: 't1',
          tokens: 50,
          remaining: 0,
          purchased_at: at,
          expires_at: '2026-11-30T00:00:00.000Z',
          origin_lot_id: null,
          created_at: at,
        },
      ])
      .execute();
    await db
      .insertInto('usage_sessions')
      .values({
        id: 's1',
        autodesk_id: 'a@example.com',
        product_key: 'autocad',
        seq: 1,
        team_id: 't1',
        starts_at: '2026-12-01T09:00:00.000Z',
        ends_at: '2026-12-02T09:00:00.000Z',
        rate: 7,
        charged: 7,
        refunded: 0,
        ended_at: null,
        last_seen_at: '2026-12-01T09:00:00.000Z',
        machine: 'm-1',
        provisional_id: null,
        entitlement: 'eyJ.x.y',
        entitlement_exp: '2026-12-02T09:00:00.000Z',
        settled_at: null,
      })
      .execute();
    await db
      .insertInto('idempotency_keys')
      .values({ scope: 'a@example.com', key: 'k1', fingerprint: 'f', status: 200, body: '{"charged":7}', created_at: at })
      .execute();
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  it('gives each read what it gives alone: values, types, order, and empty reads', async () => {
    const { db } = database;
    const reads = () =>
      [
        epochRead(db),
        productsRead(db, ['autocad', 'revit', 'none']),
        licensesRead(db, ['a@example.com', 'b@example.com'], now),
        membersRead(db, ['a@example.com']),
        sessionRowsRead(db, [{ autodeskId: 'a@example.com', product: 'autocad' }], now),
        answersRead(db, [{ scope: 'a@example.com', key: 'k1' }]),
        productsRead(db, []),
      ] as const;
    const alone = await Promise.all(reads().map((r: Read<unknown>) => readOne(db, r)));
    const together = await readAll(db, reads());
    expect(together).toEqual(alone);
    // What the launch then sees, to the type: numbers stay numbers, nulls stay null.
    expect(together[1].get('revit')?.subscriptionPricePerYear).toBe(2_500_000);
    expect(together[1].get('autocad')?.subscriptionPricePerYear).toBeNull();
    expect(together[2].get('a@example.com')?.map((l) => l.id)).toEqual(['l2', 'l1']);
    expect(together[4][0]).toMatchObject({ seq: 1, rate: 7, ended_at: null, machine: 'm-1' });
    expect(together[6].size).toBe(0);
  });

  it('reads the lots under the heads with ids taken ahead, and every entry still gets a larger id than the last', async () => {
    const entry = (delta: number) => ({
      team_id: 't1',
      lot_id: 'lot1',
      kind: 'charge' as const,
      delta,
      at: now,
      actor: 'user:a@example.com',
      autodesk_id: 'a@example.com',
      product_key: 'autocad',
      session_id: null,
      reason: 'test',
    });
    const append = (taken: number, entries: number) =>
      inTransaction(database.db, async (trx) => {
        const [lots] = await readAll(trx, [lotsRead(trx, ['t1'], now), idsRead(trx, taken)]);
        await writeAll(
          trx,
          await ledgerWrites(
            trx,
            Array.from({ length: entries }, () => entry(-1)),
          ),
        );
        return lots;
      });
    const lots = await append(2, 2);
    // lot2 is expired and empty: not one that can pay or must expire first.
    expect(lots.map((l) => [l.id, l.remaining, l.tokens])).toEqual([['lot1', 93, 100]]);
    await append(1, 3); // more entries than ids taken ahead: the rest are taken then
    await append(3, 1); // fewer: the others are left unused
    await append(0, 2);
    const ids = (await database.db.selectFrom('ledger').select('id').orderBy('id').execute()).map((r) => Number(r.id));
    expect(ids).toHaveLength(8);
    const order = (await database.db.selectFrom('ledger').select(['id', 'prev_hash', 'hash']).execute()).sort(
      (a, b) => Number(a.id) - Number(b.id),
    );
    // The chain follows the ids: each entry's prev_hash is the hash of the entry with the next smaller id.
    for (let i = 1; i < order.length; i++) expect(order[i]?.prev_hash).toBe(order[i - 1]?.hash);
  });

  // Planning a launch's statements again at every run was much of PostgreSQL's CPU per cold launch
  // (BENCHMARKS.md): once a batch's statement recurs, a connection plans it once.
  if (engine === 'postgres') {
    it('plans a recurring batch statement once per connection, not at each run', async () => {
      const { db } = database;
      const products = productsRead(db, ['autocad', 'revit']).query?.sql;
      const plans = await inTransaction(db, async (trx) => {
        for (let run = 0; run < 8; run++) {
          await readAll(trx, [productsRead(trx, ['autocad', 'revit']), membersRead(trx, ['a@example.com', 'b@example.com'])]);
          await readOne(trx, productsRead(trx, ['autocad', 'revit']));
        }
        const { rows } = await sql<{ statement: string; generic_plans: number; custom_plans: number }>`
          select statement, generic_plans, custom_plans from pg_prepared_statements`.execute(trx);
        return rows;
      });
      const planned = (p: { generic_plans: number; custom_plans: number }) => ({ generic: p.generic_plans, custom: p.custom_plans });
      // This connection may have run these texts for earlier tests too: at least these runs, never a custom plan.
      const single = plans.filter((p) => p.statement === products).map(planned);
      expect(single).toEqual([{ generic: expect.any(Number), custom: 0 }]);
      expect(single[0]?.generic).toBeGreaterThanOrEqual(8);
      // The combined text runs unprepared at its first sight (most combinations never recur), prepared after.
      const combined = plans
        .filter(
          (p) =>
            p.statement.split('json_agg').length === 3 && p.statement.includes(products ?? '?') && p.statement.includes('from "members"'),
        )
        .map(planned);
      expect(combined).toEqual([{ generic: expect.any(Number), custom: 0 }]);
      expect(combined[0]?.generic).toBeGreaterThanOrEqual(7);
    });
  }
});

// A launch batch's facts are cached under the epoch read with them: on SQLite too the reads of one
// readAll must come from one moment, or an admin change committed between two of them (another
// process writing the same file) would be half seen and cached as if whole. And a launch's reads
// never see what the gateway's own writer has not committed yet (a charge group between two of its
// statements), nor wait for it.
describe('the launch reads on sqlite', () => {
  let store: TestDatabase;
  let database: Database;
  let writer: SQLite.Database;
  let reads: ReturnType<typeof openSqliteReads>;
  let path: string;
  beforeAll(async () => {
    store = await freshDatabase('sqlite');
    database = connect({ url: store.url });
    await migrate(database);
    if (!database.sqlite) throw new Error('a SQLite database has its handle');
    writer = database.sqlite;
    path = store.url.slice('sqlite:'.length);
    reads = openSqliteReads(writer, path);
  });
  afterAll(async () => {
    await reads.close();
    await database.close();
    await store.drop();
  });

  it('does not see a change committed between two of its reads; the next readAll does', async () => {
    const other = new SQLite(path);
    try {
      const epoch = epochRead(reads.db);
      // The first read's rows are in hand when another process commits a change of access.
      const thenChanged: Read<number> = {
        query: epoch.query,
        map: (rows) => {
          other.prepare('update access_epoch set v = v + 1 where id = 1').run();
          return epoch.map(rows);
        },
      };
      const [first, second] = await readAll(reads.db, [thenChanged, epochRead(reads.db)]);
      expect(second).toBe(first);
      const [after] = await readAll(reads.db, [epochRead(reads.db)]);
      expect(after).toBe(first + 1);
    } finally {
      other.close();
    }
  });

  it('reads on the writer when it is idle, beside it while it is inside a transaction, and never sees what it has not committed', async () => {
    const [before] = await readAll(reads.db, [epochRead(reads.db)]);
    expect(reads.handle()).toBe(writer);
    writer.prepare('begin immediate').run();
    try {
      writer.prepare('update access_epoch set v = v + 1 where id = 1').run();
      expect(reads.handle()).not.toBe(writer);
      // Answered at once (no waiting for the commit), from what was committed.
      const [during] = await readAll(reads.db, [epochRead(reads.db)]);
      expect(during).toBe(before);
      expect(await readOne(reads.db, epochRead(reads.db))).toBe(before);
    } finally {
      writer.prepare('commit').run();
    }
    expect(reads.handle()).toBe(writer);
    const [after] = await readAll(reads.db, [epochRead(reads.db)]);
    expect(after).toBe((before as number) + 1);
  });

  it('refuses a write, and a transaction, on either connection', async () => {
    const bump = sql`update access_epoch set v = v + 1 where id = 1`;
    await expect(bump.execute(reads.db)).rejects.toThrow(/do not write/);
    writer.prepare('begin immediate').run();
    try {
      await expect(bump.execute(reads.db)).rejects.toThrow(/do not write/);
    } finally {
      writer.prepare('rollback').run();
    }
    await expect(reads.db.transaction().execute(async () => 1)).rejects.toThrow(/no transaction/);
  });
});
