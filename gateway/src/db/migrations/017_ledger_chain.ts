import { entryHash, GENESIS_HASH } from '@flexgate/shared';
import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The ledger becomes a hash chain per team and append-only in the database (docs/ledger.md):
 * - `prev_hash`, `hash` on every entry, the existing ones chained in id order per team;
 * - `ledger_heads`, the end of each team's chain, which every append locks and moves;
 * - triggers refusing UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the ledger, created last,
 *   after the backfill, which is the only update the ledger ever gets.
 * The wire form hashed here is the one `GET /v1/teams/:team/ledger` answers, written out so that
 * this migration hashes the same fields whatever the route becomes.
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema.alterTable('ledger').addColumn('prev_hash', 'text').execute();
  await db.schema.alterTable('ledger').addColumn('hash', 'text').execute();
  await db.schema
    .createTable('ledger_heads')
    .addColumn('team_id', 'text', (c) => c.primaryKey().references('teams.id'))
    .addColumn('last_id', engine === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('last_hash', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();

  const teams: { id: string }[] = await db.selectFrom('teams').select('id').orderBy('id').execute();
  for (const { id: team } of teams) {
    let head = { lastId: 0, lastHash: GENESIS_HASH, count: 0 };
    for (;;) {
      const rows = await db
        .selectFrom('ledger')
        .selectAll()
        .where('team_id', '=', team)
        .where('id', '>', head.lastId)
        .orderBy('id')
        .limit(2000)
        .execute();
      if (rows.length === 0) break;
      const chained: [number, string, string][] = [];
      for (const r of rows) {
        const entry = {
          id: Number(r.id),
          at: r.at,
          kind: r.kind,
          tokens: Number(r.delta),
          lotId: r.lot_id,
          actor: r.actor,
          autodeskId: r.autodesk_id,
          product: r.product_key,
          sessionId: r.session_id,
          reason: r.reason,
          prevHash: head.lastHash,
        };
        const hash = entryHash(entry);
        chained.push([entry.id, head.lastHash, hash]);
        head = { lastId: entry.id, lastHash: hash, count: head.count + 1 };
      }
      for (let i = 0; i < chained.length; i += 500) {
        const values = sql.join(chained.slice(i, i + 500).map(([id, prev, hash]) => sql`(cast(${id} as bigint), ${prev}, ${hash})`));
        await sql`update ledger set prev_hash = v.column2, hash = v.column3 from (values ${values}) as v where ledger.id = v.column1`.execute(
          db,
        );
      }
    }
    await db
      .insertInto('ledger_heads')
      .values({ team_id: team, last_id: head.lastId, last_hash: head.lastHash, count: head.count })
      .execute();
  }

  if (engine === 'sqlite') {
    for (const op of ['update', 'delete']) {
      await sql
        .raw(`create trigger ledger_no_${op} before ${op} on ledger begin select raise(abort, 'the ledger is append-only: no ${op}'); end`)
        .execute(db);
    }
  } else {
    await sql
      .raw(
        `create function ledger_append_only() returns trigger language plpgsql as $$
         begin raise exception 'the ledger is append-only: no %', lower(tg_op) using errcode = 'restrict_violation'; end $$`,
      )
      .execute(db);
    await sql
      .raw('create trigger ledger_no_change before update or delete on ledger for each row execute function ledger_append_only()')
      .execute(db);
    await sql
      .raw('create trigger ledger_no_truncate before truncate on ledger for each statement execute function ledger_append_only()')
      .execute(db);
  }
}
