/**
 * SIGTERM while the gateway starts (migrating, loading its keys): the stop waits for the start to
 * finish, then drains and exits 0, as `--help` promises for SIGTERM. It used to die of the signal
 * (exit 143) wherever the start was (an operator's review, session 51). PostgreSQL: the test holds
 * the migrations' advisory lock, so the start waits, its event loop free, for as long as the test needs.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { builtGateway } from '../harness/built-gateway';
import { freshDatabase, type TestDatabase } from '../harness/db';

/** Kysely's migration lock on PostgreSQL (its PostgresAdapter): every gateway takes it before migrating. */
const MIGRATION_LOCK = '3853314791062309107';
let db: TestDatabase | undefined;
afterAll(async () => db?.drop());

it('SIGTERM during the start: the gateway starts, drains and exits 0', async () => {
  db = await freshDatabase('postgres');
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  try {
    await holder.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    const child = spawn(process.execPath, [builtGateway()], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        PORT: '0',
        HOST: '127.0.0.1',
        FLEXGATE_LOG: 'info',
        FLEXGATE_OPERATOR_KEY: `op_${randomBytes(16).toString('hex')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.once('exit', (code, signal) => res({ code, signal })),
    );
    // Waiting for the lock: inside its start, its handlers in place.
    for (let waited = 0; ; waited += 50) {
      const { rows } = await watcher.query(
        "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%pg_advisory_lock%' and pid <> $1",
        [(await holder.query('select pg_backend_pid() as p')).rows[0].p],
      );
      if (rows[0].n > 0) break;
      if (waited > 20_000) throw new Error(`the gateway never waited for the migrations' lock:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    for (let waited = 0; !out.includes('stop asked while starting'); waited += 20) {
      if (waited > 10_000) throw new Error(`the signal was not taken while starting:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
    expect(await exited, out).toEqual({ code: 0, signal: null });
    expect(out).toContain('shutting down');
  } finally {
    await holder.end();
    await watcher.end();
  }
}, 40_000);
