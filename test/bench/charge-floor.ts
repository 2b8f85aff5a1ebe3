/**
 * `node --import tsx test/bench/charge-floor.ts`: what the SQL of one charge costs on this machine
 * with nothing around it (no HTTP, no Kysely, no signing), on the real schema (all migrations, so
 * every index and trigger a charge pays for): the same statements a cold launch runs (session
 * state, product, lots, insert session, guarded draw, ledger entry and its hash, the R19 transfer sum, balance;
 * the usage rollups are folded from the ledger later, db/repos/usage-fold.ts), as statements
 * prepared once, one charge per transaction, then 50 per transaction (group commit), with session
 * ids random as they were and time-ordered as they are
 * (lib/ids.ts `orderedId`). It is the floor the cold path could approach (BENCHMARKS.md, "Cold
 * launches"), not a test of the gateway.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, migrate } from '@flexgate/gateway';
import { newId, orderedId } from '../../gateway/src/lib/ids';

const path = join(mkdtempSync(join(tmpdir(), 'fg-floor-')), 'db.sqlite');
const database = connect({ url: `sqlite:${path}` });
await migrate(database);
// The gateway's own connection (WAL, synchronous=NORMAL), used directly: nothing else runs here.
const db = database.sqlite;
if (!db) throw new Error('expected a SQLite connection');
const now = new Date();
const iso = now.toISOString();
const yearOn = new Date(now.getTime() + 365 * 86400_000).toISOString();
db.prepare('insert into products (key, name, daily_rate, added_at) values (?, ?, ?, ?)').run('autocad', 'AutoCAD', 7, iso);
db.prepare('insert into teams (id, name, created_at) values (?, ?, ?)').run('tm_floor', 'Floor', iso);
db.prepare(
  'insert into lots (id, team_id, tokens, remaining, purchased_at, expires_at, origin_lot_id, created_at) values (?, ?, ?, ?, ?, ?, null, ?)',
).run('lot_floor', 'tm_floor', 1_000_000_000, 1_000_000_000, iso, yearOn, iso);

const q = {
  state: db.prepare(
    'select * from usage_sessions s where s.autodesk_id = ? and s.product_key = ? and ((s.ended_at is null and s.ends_at > ?) or s.seq = (select max(seq) from usage_sessions m where m.autodesk_id = ? and m.product_key = ?))',
  ),
  product: db.prepare('select * from products where key = ?'),
  lots: db.prepare('select * from lots where team_id = ? and expires_at > ? and remaining > 0 order by expires_at'),
  session: db.prepare(
    'insert into usage_sessions (id, autodesk_id, product_key, seq, team_id, starts_at, ends_at, rate, charged, refunded, ended_at, last_seen_at, machine, provisional_id, entitlement, entitlement_exp) values (?, ?, ?, 1, ?, ?, ?, 7, 7, 0, null, ?, null, null, ?, ?)',
  ),
  draw: db.prepare('update lots set remaining = remaining - ? where id = ? and remaining >= ?'),
  ledger: db.prepare(
    "insert into ledger (team_id, lot_id, kind, delta, at, actor, autodesk_id, product_key, session_id, reason, prev_hash, hash) values (?, ?, 'charge', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ),
  transfers: db.prepare("select coalesce(sum(delta), 0) as s from ledger where team_id = ? and kind = 'transfer-out' and at > ?"),
  balance: db.prepare('select sum(remaining) as b from lots where team_id = ? and expires_at > ?'),
};
const entitlement = 'e'.repeat(600); // about the size of a signed entitlement
let n = 0;
let lastHash = '0'.repeat(64);
// Session ids as the gateway made them before (random) and makes them now (time-ordered, lib/ids.ts).
let sessionId: () => string = () => newId('ses');
function charge(): void {
  const i = n++;
  const sid = sessionId();
  const user = `floor-${i}@example.com`;
  const at = new Date().toISOString();
  q.state.all(user, 'autocad', at, user, 'autocad');
  q.product.get('autocad');
  q.lots.all('tm_floor', at);
  q.session.run(sid, user, 'autocad', 'tm_floor', at, yearOn, at, entitlement, yearOn);
  q.draw.run(7, 'lot_floor', 7);
  const reason = 'AutoCAD: daily rate 7, usage session (R6)';
  // Chained as the gateway chains its entries (migration 023 refuses one without): a digest of the entry and the one before.
  const hash = createHash('sha256').update(`${lastHash}|${at}|${user}|${sid}|${reason}`).digest('hex');
  q.ledger.run('tm_floor', 'lot_floor', -7, at, `user:${user}`, user, 'autocad', sid, reason, lastHash, hash);
  lastHash = hash;
  q.transfers.get('tm_floor', at);
  q.balance.get('tm_floor', at);
}
const single = db.transaction(charge);
const batch = db.transaction((size: number) => {
  for (let j = 0; j < size; j++) charge();
});

const rows: [string, number][] = [];
const random = () => newId('ses');
const ordered = () => orderedId('ses');
for (const [label, size, ids] of [
  ['1 charge per transaction, random session ids', 1, random],
  ['50 charges per transaction, random session ids', 50, random],
  ['50 charges per transaction, time-ordered session ids', 50, ordered],
  ['1 charge per transaction, time-ordered session ids', 1, ordered],
] as const) {
  const total = 10_000;
  sessionId = ids;
  const t0 = performance.now();
  for (let k = 0; k < total / size; k++) {
    if (size === 1) single.immediate();
    else batch.immediate(size);
  }
  rows.push([label, ((performance.now() - t0) / total) * 1000]);
}
console.log('| charges | µs per charge |\n|---|---|');
for (const [label, us] of rows) console.log(`| ${label} | ${us.toFixed(1)} |`);
await database.close();
