import { searchFold } from '@flexgate/shared';
import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/** Members read and written per statement: 3 parameters a row, far below either engine's limit. */
const BATCH = 1000;

type Key = { team_id: string; autodesk_id: string };

/**
 * `members.name_fold`: the member's name under `searchFold` (Unicode lower case, then NFC), which
 * the member search matches instead of folding every name in SQL (PostgreSQL's ICU collation,
 * absent from builds without ICU; a JavaScript function registered on SQLite's connection). Every
 * write of a name writes its fold (db/repos/members.ts); the rows there are folded here, in
 * TypeScript, a batch at a time in primary key order. Instances starting at once run it once, in
 * the migrator's lock and transaction (migrate.ts); members stay locked until it commits (how long:
 * BENCHMARKS.md, test/bench/member-fold-migration.ts).
 *
 * A gateway older than this one, still running for a few seconds after it (README, "Upgrading
 * several instances"), writes members without a fold: the database refuses such a row (PostgreSQL:
 * NOT NULL; SQLite, which cannot add that to a column: a trigger), so that request fails rather than
 * leave a member no search finds, as 023 does for ledger entries.
 *
 * No index on it: a search matches `%q%`, which no btree can seek. The primary key (team_id,
 * autodesk_id) already keeps the scan to the team, in page order; an index holding the fold beside
 * those keys was measured and not built (SQLite's planner keeps the primary key; BENCHMARKS.md),
 * nor a trigram one (PostgreSQL's pg_trgm is an extension, as ICU was a build option).
 */
export async function up(db: AnyDB, engine: Engine): Promise<void> {
  await db.schema.alterTable('members').addColumn('name_fold', 'text').execute();
  let after: Key | undefined;
  for (;;) {
    let q = db.selectFrom('members').select(['team_id', 'autodesk_id', 'name']);
    if (after) q = q.where(sql<boolean>`(team_id, autodesk_id) > (${after.team_id}, ${after.autodesk_id})`);
    const rows: { team_id: string; autodesk_id: string; name: string }[] = await q
      .orderBy('team_id')
      .orderBy('autodesk_id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    // One UPDATE a batch, the same text on both engines (a VALUES list's columns are column1, ...);
    // bounded to the batch's key range, so PostgreSQL reads that range, not the whole table each time.
    const [first, last] = [rows[0], rows.at(-1)] as [Key, Key];
    const values = sql.join(rows.map((r) => sql`(${r.team_id}, ${r.autodesk_id}, ${searchFold(r.name)})`));
    await sql`update members set name_fold = v.column3 from (values ${values}) as v
      where members.team_id = v.column1 and members.autodesk_id = v.column2
        and (members.team_id, members.autodesk_id) >= (${first.team_id}, ${first.autodesk_id})
        and (members.team_id, members.autodesk_id) <= (${last.team_id}, ${last.autodesk_id})`.execute(db);
    after = last;
    if (rows.length < BATCH) break;
  }
  if (engine === 'postgres') {
    await sql`alter table members alter column name_fold set not null`.execute(db);
  } else {
    for (const op of ['insert', 'update']) {
      await sql
        .raw(
          `create trigger members_name_fold_${op} before ${op} on members when new.name_fold is null
           begin select raise(abort, 'a member needs name_fold: is a gateway older than its database still running?'); end`,
        )
        .execute(db);
    }
  }
}
