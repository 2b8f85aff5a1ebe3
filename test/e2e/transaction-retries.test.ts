/**
 * Transactions that lost a race and were started over (db/tx.ts `inTransaction`), counted in GET
 * /metrics as flexgate_transaction_retries_total{reason}, a deadlock also logged as a warning.
 * Each race is a real one: requests that wait for each other's rows on PostgreSQL, another
 * process holding SQLite's write lock, a transaction of the test's own closing a lock cycle.
 */
import { randomBytes } from 'node:crypto';
import { type RunningGateway, startGateway, testConfig } from '@flexgate/gateway';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger } from '../../gateway/src/lib/logger';
import { freshDatabase, type TestDatabase, testEngine, testKek } from '../harness/db';
import { Api, expectStatus, simultaneously } from '../harness/http';
import { holdWriteLock, type WriteLockHolder } from '../harness/sqlite-lock';

const REASONS = ['deadlock', 'serialization', 'busy', 'unique', 'lost-race'] as const;
type Reason = (typeof REASONS)[number];

interface Gateway {
  running: RunningGateway;
  op: Api;
  /** The JSON lines it logged. */
  lines: { level: string; msg: string; [field: string]: unknown }[];
}

let database: TestDatabase;
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const started: Gateway[] = [];

/** A gateway on the file's database, its log kept: several of them share it, each with its own metrics. */
async function start(): Promise<Gateway> {
  const lines: Gateway['lines'] = [];
  const config = testConfig({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: database.url,
    operatorKey,
    rateLimit: false,
    logLevel: 'warn',
    scryptN: 1024,
    kek: testKek,
  });
  const running = await startGateway(config, { logger: jsonLogger('warn', (l) => lines.push(JSON.parse(l))) });
  const gw = { running, op: new Api(running.url, operatorKey), lines };
  started.push(gw);
  return gw;
}

let gw: Gateway;
beforeAll(async () => {
  database = await freshDatabase();
  gw = await start();
});
afterAll(async () => {
  for (const g of started) await g.running.close();
  await database?.drop();
});

/** The gateway's retries by reason, as GET /metrics tells them; every reason must be there, at zero or more. */
async function retries(g: Gateway): Promise<Record<Reason, number>> {
  const text = expectStatus(await g.op.get('/metrics'), 200) as string;
  const counts = {} as Record<Reason, number>;
  for (const reason of REASONS) {
    const series = `flexgate_transaction_retries_total{reason="${reason}"}`;
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    expect(line, `${series} in GET /metrics`).toBeDefined();
    counts[reason] = Number(line?.slice(series.length + 1));
  }
  return counts;
}

const since = (before: Record<Reason, number>, after: Record<Reason, number>) =>
  Object.fromEntries(REASONS.map((r) => [r, after[r] - before[r]])) as Record<Reason, number>;

const newTeam = async (g: Gateway) =>
  expectStatus(await g.op.post('/v1/teams', { name: `Team ${randomBytes(4).toString('hex')}` }), 201).id as string;

describe('purchases sent at once with one Idempotency-Key', () => {
  it('all answer the one purchase; on PostgreSQL those that waited for the first start over (lost-race), counted by their gateway alone', async () => {
    // A second gateway on the same database: its registry must not take the first one's counts.
    // SQLite: no second in-process connection, whose busy wait would block the test's own process.
    const other = testEngine() === 'postgres' ? await start() : null;
    const team = await newTeam(gw);
    const before = await retries(gw);
    const otherBefore = other && (await retries(other));
    const key = `same-${randomBytes(6).toString('hex')}`;
    const n = 8;
    const send = () =>
      simultaneously(
        Array.from({ length: n }, () => ({
          api: gw.op,
          method: 'POST',
          path: `/v1/teams/${team}/purchases`,
          body: { tokens: 10 },
          headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorKey}`, 'idempotency-key': key },
        })),
      );
    // PostgreSQL: the race made certain, not left to the scheduler (on a loaded machine the first
    // could commit before the others got in, and all would replay at once): the team's ledger head
    // is held until all eight wait on it, then let go.
    const answers = testEngine() === 'postgres' ? await queuedOnLedgerHead(team, n, send) : await send();
    const lots = new Set(answers.map((a) => expectStatus(a, 201).lotId));
    expect(lots.size).toBe(1);
    const counted = since(before, await retries(gw));
    if (testEngine() === 'postgres') {
      // All but the first waited on the team's ledger head, then found the key taken by the first:
      // each starts over once and replays the first's answer.
      expect(counted['lost-race']).toBe(n - 1);
      expect({ ...counted, 'lost-race': 0 }).toEqual({ deadlock: 0, serialization: 0, busy: 0, unique: 0, 'lost-race': 0 });
      expect(since(otherBefore as Record<Reason, number>, await retries(other as Gateway))).toEqual({
        deadlock: 0,
        serialization: 0,
        busy: 0,
        unique: 0,
        'lost-race': 0,
      });
    } else {
      // One writer: each transaction reads the answer the one before it committed, and none starts over.
      expect(counted).toEqual({ deadlock: 0, serialization: 0, busy: 0, unique: 0, 'lost-race': 0 });
    }
  });
});

describe.runIf(testEngine() === 'postgres')('a deadlock between a purchase and another transaction', () => {
  it('PostgreSQL breaks it, the purchase starts over and succeeds: counted as deadlock, with one warning', async () => {
    const team = await newTeam(gw);
    expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 5 }), 201); // the team's ledger head exists
    const before = await retries(gw);
    const key = `cycle-${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // This side must not be the one PostgreSQL breaks: it checks later than the gateway does.
      await client.query(`set deadlock_timeout = '20s'`);
      await client.query('begin');
      // The purchase's key, taken and not committed: the purchase's own insert of it will wait here.
      await client.query(
        `insert into idempotency_keys (scope, key, fingerprint, status, body, created_at) values ($1, $2, 'x', 200, '{}', $3)`,
        [`purchase:${team}`, key, new Date().toISOString()],
      );
      const purchase = gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 10 }, { 'idempotency-key': key });
      // Once the purchase holds the team's ledger head and waits for the key, ask for the head: a cycle.
      await waitFor(async () => {
        // Inside a transaction pg_stat_activity answers the snapshot it took first: a fresh one each time.
        await client.query('select pg_stat_clear_snapshot()');
        const { rows } = await client.query(
          `select 1 from pg_stat_activity where datname = current_database() and wait_event = 'transactionid' and pid <> pg_backend_pid()`,
        );
        return rows.length > 0;
      });
      await client.query('select 1 from ledger_heads where team_id = $1 for update', [team]);
      // The purchase was broken and started over: it now waits for this transaction, which gives way.
      await client.query('rollback');
      const bought = expectStatus(await purchase, 201);
      expect(bought.tokens).toBe(10);
    } finally {
      await client.end();
    }
    expect(since(before, await retries(gw))).toEqual({ deadlock: 1, serialization: 0, busy: 0, unique: 0, 'lost-race': 0 });
    const warned = gw.lines.filter((l) => l.msg === 'transaction deadlocked, started over');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', err: expect.stringMatching(/deadlock/), detail: expect.stringMatching(/waits for/) });
  }, 30_000);
});

describe.runIf(testEngine() === 'sqlite')("another process holding SQLite's write lock past a write's 10 s wait", () => {
  let holder: WriteLockHolder | undefined;
  afterAll(async () => {
    await holder?.release();
  });

  it('the purchase gets SQLITE_BUSY, starts over once the lock is released and succeeds: counted as busy, no warning', async () => {
    const team = await newTeam(gw);
    const before = await retries(gw);
    const warnings = gw.lines.length;
    // Another instance on the same file, in the middle of a long write: the write lock, held a
    // little longer than a write waits for it.
    holder = await holdWriteLock(database.url.slice('sqlite:'.length), 11_000);
    const bought = expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 10 }), 201);
    expect(bought.tokens).toBe(10);
    const counted = since(before, await retries(gw));
    // Background upkeep waiting on the same lock may have started over too: busy, and nothing else.
    expect(counted.busy).toBeGreaterThanOrEqual(1);
    expect({ ...counted, busy: 0 }).toEqual({ deadlock: 0, serialization: 0, busy: 0, unique: 0, 'lost-race': 0 });
    expect(gw.lines.slice(warnings).filter((l) => l.msg === 'transaction deadlocked, started over')).toEqual([]);
  }, 60_000);
});

/** Runs `send` while a transaction of the test's own holds the team's ledger head, until `n` of the gateway's wait on it. */
async function queuedOnLedgerHead<T>(team: string, n: number, send: () => Promise<T>): Promise<T> {
  expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 1 }), 201); // the head exists
  const holder = new pg.Client({ connectionString: database.url });
  // A connection of its own: inside a transaction, pg_stat_activity answers the snapshot it took first.
  const watcher = new pg.Client({ connectionString: database.url });
  await Promise.all([holder.connect(), watcher.connect()]);
  try {
    await holder.query('begin');
    await holder.query('select 1 from ledger_heads where team_id = $1 for update', [team]);
    const sent = send();
    await waitFor(async () => {
      const { rows } = await watcher.query(
        `select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      return rows[0].waiting >= n;
    });
    await holder.query('rollback');
    return await sent;
  } finally {
    await Promise.all([holder.end(), watcher.end()]);
  }
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
