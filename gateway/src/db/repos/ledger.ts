import { entryHash, GENESIS_HASH, type LedgerEntry } from '@flexgate/shared';
import { PostgresAdapter, sql } from 'kysely';
import { rowsOf, shaped } from '../compiled';
import { known, type Read, read, readOne } from '../reads';
import type { LedgerTable } from '../schema';
import type { Tx } from '../tx';
import type { Write } from '../writes';

/**
 * The ledger's hash chain per team (docs/ledger.md). Whoever appends to a team's ledger first
 * holds its head (`lockLedgers`): on PostgreSQL the `ledger_heads` row FOR UPDATE, so the
 * appends of several instances to one team run one after the other and chain in commit order;
 * on SQLite every write transaction already holds the database. Heads are taken in team order
 * and before any of the team's lots is touched, by every writer: the lots of a team are then only
 * ever changed by the holder of its head, and two writers never wait for each other in a circle.
 */

export type LedgerInput = Omit<LedgerTable, 'id' | 'prev_hash' | 'hash'>;
export type LedgerRow = Omit<LedgerTable, 'id'> & { id: number };
/** A `ledger_heads` row (a type, not the interface: shaped queries take plain records). */
export type HeadRow = { team_id: string; last_id: number; last_hash: string; count: number };

export interface LedgerHead {
  lastId: number;
  lastHash: string;
  count: number;
}

/** The heads this transaction holds, as it has moved them: a transaction object lives as long as its transaction. */
const held = new WeakMap<Tx, Map<string, LedgerHead>>();

const isPostgres = (trx: Tx) => trx.getExecutor().adapter instanceof PostgresAdapter;

const headsQuery = (lock: boolean) =>
  shaped((db, a: { teams: string[] }) =>
    db
      .selectFrom('ledger_heads')
      .select(['team_id', 'last_id', 'last_hash', 'count'])
      .where('team_id', 'in', a.teams)
      .orderBy('team_id')
      .$if(lock, (q) => q.forUpdate()),
  );
const headsLocked = headsQuery(true);
const headsUnlocked = headsQuery(false);

/** Writes heads: new ones (a team's first entry) and moved ones alike. */
const putHeads = shaped((db, a: { rows: HeadRow[] }) =>
  db
    .insertInto('ledger_heads')
    .values(a.rows)
    .onConflict((oc) =>
      oc.column('team_id').doUpdateSet({
        last_id: sql`excluded.last_id`,
        last_hash: sql`excluded.last_hash`,
        count: sql`excluded.count`,
      }),
    ),
);
const newHeads = shaped((db, a: { rows: HeadRow[] }) =>
  db
    .insertInto('ledger_heads')
    .values(a.rows)
    .onConflict((oc) => oc.column('team_id').doNothing()),
);

/**
 * Takes the heads of these teams' chains for this transaction (those it does not hold yet), in
 * team order. Call it before touching the teams' lots. A team without a head yet gets one.
 */
export async function lockLedgers(trx: Tx, teamIds: Iterable<string>): Promise<Map<string, LedgerHead>> {
  let heads = held.get(trx);
  if (!heads) {
    heads = new Map();
    held.set(trx, heads);
  }
  const mine = heads;
  const missing = [...new Set(teamIds)].filter((t) => !mine.has(t)).sort();
  if (missing.length === 0) return mine;
  const query = isPostgres(trx) ? headsLocked : headsUnlocked;
  let rows = await rowsOf(trx, query, { teams: missing });
  if (rows.length < missing.length) {
    const found = new Set(rows.map((r) => r.team_id));
    const fresh = missing.filter((t) => !found.has(t)).map((t) => ({ team_id: t, last_id: 0, last_hash: GENESIS_HASH, count: 0 }));
    await trx.executeQuery(newHeads(trx, { rows: fresh }));
    rows = await rowsOf(trx, query, { teams: missing });
  }
  for (const r of rows) mine.set(r.team_id, { lastId: Number(r.last_id), lastHash: r.last_hash, count: Number(r.count) });
  return mine;
}

/** Ids a transaction took ahead (`idsRead`), not given to an entry yet. */
const reserved = new WeakMap<Tx, number[]>();

/** The sequence by name (bigserial's): pg_get_serial_sequence would be looked up once per row. */
const idsQuery = shaped((db, a: { n: number }) =>
  db.selectFrom(sql`generate_series(1, ${a.n})`.as('g')).select(sql<string>`nextval('ledger_id_seq')`.as('id')),
);

/**
 * Up to `n` ids taken ahead for this transaction's entries, to read with the lots it reads under
 * its teams' heads (`readAll`): one round trip fewer while other groups wait for those heads. An id
 * not used leaves a gap, as a rollback does. SQLite gives ids from its sequence: nothing to take.
 */
export function idsRead(trx: Tx, n: number): Read<void> {
  if (!isPostgres(trx) || n === 0) return known(undefined);
  return read(idsQuery(trx, { n }), (rows) => {
    reserved.set(
      trx,
      [...(reserved.get(trx) ?? []), ...rows.map((r) => Number(r.id))].sort((a, b) => a - b),
    );
  });
}

/**
 * Ids for new entries, in increasing order. Taken while the teams' heads are held, so a team's
 * entries get increasing ids in the order they commit (its ledger pages by id).
 */
async function newIds(trx: Tx, n: number): Promise<number[]> {
  if (isPostgres(trx)) {
    const ahead = reserved.get(trx) ?? [];
    const taken = ahead.splice(0, n);
    if (taken.length < n) await readOne(trx, idsRead(trx, n - taken.length));
    return [...taken, ...(reserved.get(trx) ?? []).splice(0, n - taken.length)];
  }
  // AUTOINCREMENT keeps the largest id ever given in sqlite_sequence; this transaction holds the database.
  const { rows } = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'ledger'`.execute(trx);
  const last = Number(rows[0]?.seq ?? 0);
  return Array.from({ length: n }, (_, i) => last + 1 + i);
}

const insertEntries = shaped((db, a: { rows: LedgerRow[] }) => db.insertInto('ledger').values(a.rows));

/**
 * Appends entries, in the order given, to their teams' chains: the heads taken and the ids given
 * now (ids under the heads, so a team's entries number in commit order), then the insert and the
 * moved heads as writes for `writeAll`, to go with the transaction's other writes.
 */
export async function chainWrites(trx: Tx, entries: readonly LedgerInput[]): Promise<Write[]> {
  const heads = await lockLedgers(
    trx,
    entries.map((e) => e.team_id),
  );
  const ids = await newIds(trx, entries.length);
  const moved = new Set<string>();
  const rows = entries.map((e, i): LedgerRow => {
    const head = heads.get(e.team_id) as LedgerHead;
    // Field by field, not spread: one shape for every row (the insert reads each of its values).
    const row: LedgerRow = {
      id: ids[i] as number,
      team_id: e.team_id,
      lot_id: e.lot_id,
      kind: e.kind,
      delta: e.delta,
      at: e.at,
      actor: e.actor,
      autodesk_id: e.autodesk_id,
      product_key: e.product_key,
      session_id: e.session_id,
      reason: e.reason,
      prev_hash: head.lastHash,
      hash: '',
    };
    row.hash = entryHash(entryOf(row));
    heads.set(e.team_id, { lastId: row.id, lastHash: row.hash, count: head.count + 1 });
    moved.add(e.team_id);
    return row;
  });
  const headRows = [...moved].sort().map((t) => {
    const h = heads.get(t) as LedgerHead;
    return { team_id: t, last_id: h.lastId, last_hash: h.lastHash, count: h.count };
  });
  return [{ query: insertEntries(trx, { rows }) }, { query: putHeads(trx, { rows: headRows }) }];
}

/** An entry's wire form (R5), what `GET /v1/teams/:team/ledger` answers and what its hash covers. */
export function entryOf(r: Omit<LedgerRow, 'id'> & { id: number | string }): LedgerEntry {
  return {
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
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
