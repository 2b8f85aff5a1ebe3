import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@flexgate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtGateway } from '../harness/built-gateway';
import { freshDatabase, type TestDatabase, testKek } from '../harness/db';
import {
  CATALOG,
  expectLedgerMatchesBalance,
  joinTeam,
  ledgerOf,
  newAccount,
  newMember,
  newTeam,
  seedCatalog,
  type TestUser,
} from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';
import { granted } from '../harness/launch-results';
import { type GatewayProcess, spawnGateway } from '../harness/process';
import { trustOf } from '../harness/trust';

/**
 * `node gateway/dist/main.js backup FILE` (README, "Backing up"): a SQLite site's copy, taken while
 * the gateway serves, that a gateway started on it serves from as it was at one commit. SQLite only
 * (PostgreSQL has pg_dump), so once.
 */
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const asGateway = (p: GatewayProcess) => ({ op: new Api(p.url, operatorKey), anon: new Api(p.url) }) as unknown as TestGateway;

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

function backup(databaseUrl: string, args: string[]): Promise<Ended> {
  const child = spawn(process.execPath, [builtGateway(), 'backup', ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, FLEXGATE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => child.once('close', (code) => res({ code, stdout, stderr })));
}

/** The gateway's better-sqlite3 (the tests' package does not depend on it), for an edit behind the gateway's back. */
interface RawSqlite {
  exec(sql: string): void;
  prepare(sql: string): { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown };
  close(): void;
}
const SQLite = createRequire(fileURLToPath(new URL('../../gateway/package.json', import.meta.url)))('better-sqlite3') as new (
  file: string,
) => RawSqlite;

let db: TestDatabase;
let dir: string;
let gateway: GatewayProcess;
let team = '';
const members: TestUser[] = [];
const started: GatewayProcess[] = [];

beforeAll(async () => {
  db = await freshDatabase('sqlite');
  dir = mkdtempSync(join(tmpdir(), 'flexgate-backups-'));
  gateway = await spawnGateway({ databaseUrl: db.url, operatorKey });
  started.push(gateway);
  const gw = asGateway(gateway);
  await seedCatalog(gw);
  team = await newTeam(gw, 100_000);
  for (let i = 0; i < 12; i++) members.push(await newMember(gw, team, 'all'));
}, 120_000);

afterAll(async () => {
  for (const g of started) await g.stop('SIGKILL');
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('backup', () => {
  it('taken while launches and purchases commit, the copy is one commit of the database: a gateway on it serves that state', async () => {
    const gw = asGateway(gateway);
    // Load until told to stop: cold launches (a charge each, its session) and purchases, all committing.
    let loading = true;
    const load = async (worker: number) => {
      for (let n = 0; loading; n++) {
        if (worker === 0) {
          expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 1 + (n % 5) }), 201);
          continue;
        }
        const member = members[(worker * 7 + n) % members.length] as TestUser;
        const product = CATALOG[n % CATALOG.length]?.key as string;
        const r = await member.api.post('/v1/launch', { product });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      }
    };
    const workers = [0, 1, 2, 3].map(load);
    // Something committed before the copy, and more after it.
    const entriesReach = async (n: number) => {
      while ((await ledgerOf(gw, team)).length < n) await new Promise((r) => setTimeout(r, 20));
    };
    await entriesReach(20);
    // A reader's snapshot held open (a report, a sqlite3 shell) keeps the commits after it in the WAL
    // only, where a copy of the database file alone would miss them.
    const reader = new SQLite(db.url.slice('sqlite:'.length));
    reader.exec('begin');
    reader.prepare('select count(*) from ledger').get();
    await entriesReach(60);
    const committedBefore = (await ledgerOf(gw, team)).length;
    const to = join(dir, 'during-load.db');
    const ended = await backup(db.url, [to]);
    reader.exec('commit');
    reader.close();
    await new Promise((r) => setTimeout(r, 300));
    loading = false;
    await Promise.all(workers);

    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toBe('');
    const entries = Number(/(\d+) ledger entries/.exec(ended.stdout)?.[1]);
    expect(ended.stdout).toMatch(/^backup written: .*during-load\.db \(\d+ bytes, schema 0\d\d_\w+, 1 team, \d+ ledger entries\)\n/);
    expect(ended.stdout).toContain('checked:');
    // Readable by its owner only: it holds the private keys, as the database does.
    expect(statSync(to).mode & 0o777).toBe(0o600);
    // No partial file left beside it.
    expect(readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);

    const original = await ledgerOf(gw, team);
    const restored = await spawnGateway({ databaseUrl: `sqlite:${to}`, operatorKey, env: { FLEXGATE_KEK: testKek } });
    started.push(restored);
    const copy = asGateway(restored);
    const copied = await ledgerOf(copy, team);
    // The copy's ledger is the original's up to one commit, and the writes went on past it.
    expect(copied.length).toBe(entries);
    // Everything committed before the backup started is in it, the WAL's last commits included.
    expect(copied.length).toBeGreaterThanOrEqual(committedBefore);
    expect(original.length).toBeGreaterThan(copied.length);
    expect(copied).toEqual(original.slice(0, copied.length));
    // Lots, balance and chain agree in the copy (R5): no commit half in it.
    await expectLedgerMatchesBalance(copy, team);

    // A day paid in the copy stays paid: the same member relaunching on the restored gateway is not charged.
    const charge = copied.find((e) => e.kind === 'charge');
    const member = members.find((m) => m.autodeskId === charge.autodeskId) as TestUser;
    const again = expectStatus(
      await new Api(restored.url, member.api.token as string).post('/v1/launch', { product: charge.product }),
      200,
    );
    expect(again.charged).toBe(0);
    expect(again.session.id).toBe(charge.sessionId);
  }, 60_000);

  it('refuses, with one line and exit 2, a file that exists, a PostgreSQL database, no database, and no file named', async () => {
    const kept = join(dir, 'kept.db');
    writeFileSync(kept, 'an older backup');
    const notSqlite = join(dir, 'not-sqlite.txt');
    writeFileSync(notSqlite, 'these are notes, not a database, and long enough to have a header');
    const otherSqlite = join(dir, 'other.db');
    const other = new SQLite(otherSqlite);
    other.exec('create table notes (body text)');
    other.close();
    const cases: [Promise<Ended>, RegExp][] = [
      [backup(db.url, [kept]), /^flexgate: .*kept\.db already exists: a backup never overwrites a file; name a new one\n$/],
      [backup('postgres://postgres@127.0.0.1:5432/test', [join(dir, 'pg.db')]), /^flexgate: backup copies a SQLite database; .*pg_dump/],
      [backup(`sqlite:${join(dir, 'nothing-here.db')}`, [join(dir, 'from-nothing.db')]), /^flexgate: no SQLite database at /],
      [backup(db.url, []), /^flexgate: backup takes one argument, the file to write/],
      [backup(`sqlite:${notSqlite}`, [join(dir, 'of-text.db')]), /^flexgate: .*not-sqlite\.txt is not a SQLite database\n$/],
      [backup(`sqlite:${otherSqlite}`, [join(dir, 'of-other.db')]), /^flexgate: .*other\.db is a SQLite database but not flexgate's/],
      [backup(db.url, [join(dir, 'a.db'), join(dir, 'b.db')]), /^flexgate: backup takes one argument/],
    ];
    for (const [ended, line] of cases) {
      const e = await ended;
      expect(e.code, e.stderr).toBe(2);
      expect(e.stderr).toMatch(line);
      expect(e.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(e.stdout).toBe('');
    }
    expect(readFileSync(kept, 'utf8')).toBe('an older backup');
    for (const f of ['pg.db', 'from-nothing.db', 'nothing-here.db', 'a.db', 'b.db', 'of-text.db', 'of-other.db'])
      expect(existsSync(join(dir, f)), f).toBe(false);
    // Nor a hidden partial copy of any of them.
    expect(readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);
  });

  it('restored, then rotated: a client that took a later key set before the restore trusts the restored gateway', async () => {
    // A gateway of its own on a fixed port: the client knows its gateway by URL, as after a real restore.
    const file = join(dir, 'restore', 'flexgate.db');
    const url = `sqlite:${file}`;
    const first = await spawnGateway({ databaseUrl: url, operatorKey });
    started.push(first);
    const gw = asGateway(first);
    await seedCatalog(gw);
    const team = await newTeam(gw, 100);
    const account = await newAccount(gw);
    await joinTeam(gw, team, account, { allProducts: true });
    const client = createClient({ trust: await trustOf(gw), gatewayUrl: first.url, cacheDir: join(dir, 'client'), machine: 'ws-restore' });
    try {
      await client.signIn(account.autodeskId, account.password);
      granted(await client.launch('autocad'));
      const copy = join(dir, 'before-rotation.db');
      expect((await backup(url, [copy])).code).toBe(0);
      // After the copy: a rotation, which the client takes (a launch signed by the new key).
      expectStatus(await gw.op.post('/v1/keys/rotate', {}), 200);
      granted(await client.launch('revit', { fresh: true }));

      // Restored as the README says: stopped, the copy in the file's place, its -wal and -shm gone.
      await first.stop();
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      copyFileSync(copy, file);
      const restored = await spawnGateway({ databaseUrl: url, operatorKey, port: first.port });
      started.push(restored);
      // Rotated again: its key set must read as newer than the one the client took before the restore.
      // (Versions count seconds: a restore takes longer than the one second this waits.)
      await new Promise((r) => setTimeout(r, 1100));
      expectStatus(await asGateway(restored).op.post('/v1/keys/rotate', {}), 200);
      const after = granted(await client.launch('maya', { fresh: true }));
      expect(after.charged).toBe(9);
    } finally {
      await client.close();
    }
  });

  it('a ledger edited behind the gateway: the copy is written, and its check names the entry, exit 1', async () => {
    // A copy to edit, so that the other tests' database stays whole.
    const source = join(dir, 'source.db');
    expect((await backup(db.url, [source])).code).toBe(0);
    const edited = new SQLite(source);
    edited.exec('drop trigger ledger_no_update');
    const { id: victim } = edited
      .prepare('select id from ledger where team_id = ? and kind = ? order by id limit 1')
      .get(team, 'charge') as {
      id: number;
    };
    edited.prepare('update ledger set delta = delta + 1 where id = ?').run(victim);
    edited.close();

    const to = join(dir, 'of-edited.db');
    const ended = await backup(`sqlite:${source}`, [to]);
    expect(ended.code, ended.stderr).toBe(1);
    expect(ended.stdout).toMatch(/^backup written: /);
    expect(ended.stdout).toContain(`the copy FAILED 1 check(s)`);
    expect(ended.stdout).toContain(`team ${team}'s ledger breaks at entry ${victim} (position `);
    expect(existsSync(to)).toBe(true);
  });
});
