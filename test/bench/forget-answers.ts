/**
 * `node --import tsx test/bench/forget-answers.ts [answers] [reps] [page]`: what the hourly upkeep that
 * forgets day-old Idempotency-Key answers costs the launches of a SQLite gateway. Its statements run
 * on the gateway's one thread and connection, so the longest turn of the event loop during the sweep
 * is how long a launch (and every charge) may wait behind it. Two ways on copies of one database
 * (`answers` rows of 874-byte bodies spread over 25 hours, one hour to forget): one DELETE over the
 * table (the sweep before it went by pages), and `forgetAnswersBefore` (pages in rowid order, each
 * page's old answers deleted by rowid), alternating.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, migrate } from '@flexgate/gateway';
import { startCheckpointer } from '../../gateway/src/db/checkpointer';
import { forgetAnswersBefore } from '../../gateway/src/db/repos/idempotency';

const answers = Number(process.argv[2] ?? 300_000);
const reps = Number(process.argv[3] ?? 3);
const page = process.argv[4] ? Number(process.argv[4]) : undefined;
const dir = mkdtempSync(join(tmpdir(), 'fg-forget-'));
const seed = join(dir, 'seed.sqlite');
const start = Date.parse('2026-12-01T00:00:00Z');
const cut = new Date(start + 3_600_000).toISOString();
{
  const database = connect({ url: `sqlite:${seed}` });
  await migrate(database);
  const db = database.sqlite;
  if (!db) throw new Error('expected a SQLite connection');
  const body = 'x'.repeat(874); // about a launch answer's size
  const insert = db.prepare('insert into idempotency_keys (scope, key, fingerprint, status, body, created_at) values (?, ?, ?, 200, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < answers; i++) {
      const at = new Date(start + (i / answers) * 25 * 3_600_000).toISOString();
      insert.run(`user:u${i % 5000}@example.com`, crypto.randomUUID(), 'f'.repeat(43), body, at);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  await database.close();
}

/** The sweep's wall time and the longest turn of the event loop meanwhile, on a fresh copy of the seed. */
async function measure(sweep: (database: ReturnType<typeof connect>) => Promise<unknown>): Promise<{ ms: number; turn: number }> {
  const path = join(dir, `copy-${crypto.randomUUID()}.sqlite`);
  copyFileSync(seed, path);
  const database = connect({ url: `sqlite:${path}` });
  // As the gateway runs: WAL checkpoints on a thread of their own, not in the sweep's commits.
  const checkpointer = database.sqlite ? startCheckpointer(path, database.sqlite) : null;
  // A connection that has served already: its first statements are not the sweep's cost.
  await database.db.selectFrom('idempotency_keys').select('scope').limit(1).execute();
  let last = 0;
  let turn = 0;
  let on = true;
  const tick = () => {
    const t = performance.now();
    if (last > 0) turn = Math.max(turn, t - last);
    last = t;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  while (last === 0) await new Promise((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  await sweep(database);
  const ms = performance.now() - t0;
  // The turn the sweep ended in counts too (one DELETE is a single turn).
  await new Promise((resolve) => setImmediate(resolve));
  on = false;
  await checkpointer?.stop();
  await database.close();
  return { ms, turn };
}

console.log(`${answers} answers, ${Math.round(answers / 25)} of them to forget\n`);
console.log(
  '| rep | one DELETE: wall ms | longest turn ms | by pages: wall ms | longest turn ms | longest turn, pages / one |\n|---|---|---|---|---|---|',
);
for (let r = 1; r <= reps; r++) {
  const one = await measure((d) => d.db.deleteFrom('idempotency_keys').where('created_at', '<', cut).execute());
  const paged = await measure((d) => forgetAnswersBefore(d.db, cut, page));
  console.log(
    `| ${r} | ${one.ms.toFixed(0)} | ${one.turn.toFixed(1)} | ${paged.ms.toFixed(0)} | ${paged.turn.toFixed(1)} | ${(paged.turn / one.turn).toFixed(3)} |`,
  );
}
