import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DB } from '../schema';
import { inTransaction, serialize } from '../tx';

/**
 * The usage rollups (tokens and sessions by team and day per product and per user, migration 005;
 * by team, month, user and product, migration 019) are folded from the ledger after the fact, not
 * written by every charge: a cold launch writes three rows fewer while it holds its team's head.
 * A team's entries get increasing ids in the order they commit (db/repos/ledger.ts), so what a
 * reader sees of one team is always a prefix of its ledger, and `usage_folds.folded_id` says
 * exactly which prefix the rollups hold. Whoever reads a rollup folds first (`foldUsage`); the
 * server also folds every team in the background, so that a read seldom has much to fold.
 */

/**
 * R15: the instant a charge or refund counts at in usage. A refund counts at the charge it
 * reverses (its session's start), not when it happened (`at`, the ledger's true history), so that
 * no day ever shows negative use.
 */
export const usageAt = sql<string>`case when ${sql.ref('ledger.kind')} = 'refund' then coalesce((select ${sql.ref('s.starts_at')} from ${sql.table('usage_sessions')} as ${sql.ref('s')} where ${sql.ref('s.id')} = ${sql.ref('ledger.session_id')}), ${sql.ref('ledger.at')}) else ${sql.ref('ledger.at')} end`;

/** R15: the sessions among some charges and refunds, net: a charge over two lots is one, a refunded one none. */
export const netSessions = sql<number>`count(distinct case when ${sql.ref('kind')} = 'charge' then ${sql.ref('session_id')} end) - count(distinct case when ${sql.ref('kind')} = 'refund' then ${sql.ref('session_id')} end)`;

type Grain = {
  table: 'usage_day_product' | 'usage_day_user' | 'usage_month';
  time: 'day' | 'month';
  keys: ('autodesk_id' | 'product_key')[];
};
const GRAINS: Grain[] = [
  { table: 'usage_day_product', time: 'day', keys: ['product_key'] },
  { table: 'usage_day_user', time: 'day', keys: ['autodesk_id'] },
  { table: 'usage_month', time: 'month', keys: ['autodesk_id', 'product_key'] },
];

/** R15: the team's charges and refunds in (from, to] added to their cells, a refund on its charge's day. */
function foldStatement(db: Kysely<DB>, g: Grain, teamId: string, from: number, to: number) {
  const when: RawBuilder<string> = sql`substr(${usageAt}, 1, ${g.time === 'day' ? 10 : 7})`;
  const cols = ['team_id', g.time, ...g.keys, 'tokens', 'sessions'];
  const keyCols = ['team_id', g.time, ...g.keys];
  return sql`insert into ${sql.table(g.table)} (${sql.join(cols.map((c) => sql.ref(c)))})
    select ${sql.ref('team_id')}, ${when}, ${sql.join(g.keys.map((k) => sql.ref(k)))}, -sum(${sql.ref('delta')}), ${netSessions}
    from ${sql.table('ledger')}
    where ${sql.ref('team_id')} = ${teamId} and ${sql.ref('id')} > ${from} and ${sql.ref('id')} <= ${to}
      and ${sql.ref('kind')} in ('charge', 'refund') and ${sql.ref('autodesk_id')} is not null and ${sql.ref('product_key')} is not null
    group by ${sql.raw(keyCols.map((_, i) => String(i + 1)).join(', '))}
    on conflict (${sql.join(keyCols.map((c) => sql.ref(c)))}) do update set
      ${sql.ref('tokens')} = ${sql.table(g.table)}.${sql.ref('tokens')} + excluded.${sql.ref('tokens')},
      ${sql.ref('sessions')} = ${sql.table(g.table)}.${sql.ref('sessions')} + excluded.${sql.ref('sessions')}`.execute(db);
}

async function foldedUpTo(db: Kysely<DB>, teamId: string): Promise<number> {
  const row = await db.selectFrom('usage_folds').select('folded_id').where('team_id', '=', teamId).executeTakeFirst();
  return Number(row?.folded_id ?? 0);
}

/**
 * Most entries one fold transaction takes: a team's first fold after migration 021 may have a
 * million, and on SQLite a transaction holds every writer (BENCHMARKS.md: 1,000,000 in 4.6 s).
 */
const CHUNK = 20_000;

/**
 * Brings the team's rollups up to its ledger, `chunk` entries per transaction (all in the caller's
 * when it is one): two folders of one team (instances, a read and the background) take turns,
 * and each entry counts once. Answers how many entries it folded; a team with nothing new costs
 * one small read.
 */
export async function foldUsage(db: Kysely<DB>, teamId: string, chunk = CHUNK): Promise<number> {
  return (await teamsBehind(db, teamId)).length === 0 ? 0 : foldBehind(db, teamId, chunk);
}

/** `foldUsage` for a team known to be behind. */
async function foldBehind(db: Kysely<DB>, teamId: string, chunk: number): Promise<number> {
  const fold = async (trx: Kysely<DB>) => {
    await serialize(trx as Parameters<typeof serialize>[0], `usage-fold:${teamId}`);
    const from = await foldedUpTo(trx, teamId);
    // The bound first: the fold and the mark then cover the same entries, whatever commits meanwhile.
    const next = trx.selectFrom('ledger').select('id').where('team_id', '=', teamId).where('id', '>', from).orderBy('id').limit(chunk);
    const last = await trx
      .selectFrom(next.as('next'))
      .select([sql<number | null>`max(${sql.ref('id')})`.as('to'), sql<number>`count(*)`.as('n')])
      .executeTakeFirst();
    if (last?.to === null || last?.to === undefined) return 0;
    let to = Number(last.to);
    let n = Number(last.n);
    if (n === chunk) {
      // A charge over two lots is two entries, one session: a chunk ends after all of them.
      const tail = await trx.selectFrom('ledger').select(['session_id', 'kind']).where('id', '=', to).executeTakeFirst();
      if (tail?.session_id) {
        const rest = await trx
          .selectFrom('ledger')
          .select([sql<number | null>`max(${sql.ref('id')})`.as('to'), sql<number>`count(*)`.as('n')])
          .where('team_id', '=', teamId)
          .where('session_id', '=', tail.session_id)
          .where('kind', '=', tail.kind)
          .where('id', '>', to)
          .executeTakeFirst();
        if (rest?.to !== null && rest?.to !== undefined) [to, n] = [Number(rest.to), n + Number(rest.n)];
      }
    }
    for (const g of GRAINS) await foldStatement(trx, g, teamId, from, to);
    await trx
      .insertInto('usage_folds')
      .values({ team_id: teamId, folded_id: to })
      .onConflict((oc) => oc.column('team_id').doUpdateSet({ folded_id: to }))
      .execute();
    return n;
  };
  let folded = 0;
  for (;;) {
    // Inside a transaction already (an R19 e-mail's forecast, decided in a charge's): fold in it.
    const n = db.isTransaction ? await fold(db) : await inTransaction(db, fold);
    folded += n;
    if (n < chunk) return folded;
  }
}

/** The teams (or this one) whose ledger moved past their last fold, in team order. */
async function teamsBehind(db: Kysely<DB>, teamId?: string): Promise<string[]> {
  const rows = await db
    .selectFrom('ledger_heads as h')
    .leftJoin('usage_folds as f', 'f.team_id', 'h.team_id')
    .select('h.team_id')
    .where((eb) => eb('h.last_id', '>', eb.fn.coalesce('f.folded_id', sql<number>`0`)))
    .$if(teamId !== undefined, (q) => q.where('h.team_id', '=', teamId as string))
    .orderBy('h.team_id')
    .execute();
  return rows.map((r) => r.team_id);
}

/** Folds every team whose ledger moved since its last fold, one team per transaction. */
export async function foldAllUsage(db: Kysely<DB>): Promise<number> {
  let folded = 0;
  for (const team of await teamsBehind(db)) folded += await foldBehind(db, team, CHUNK);
  return folded;
}
