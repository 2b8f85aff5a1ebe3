/**
 * The first hour (issue "The first hour"): what a new operator sees when the gateway cannot start.
 * Each problem ends with exit code 2 and exactly one line on stderr that names it, no stack trace,
 * and nothing created on disk; `--help` lists every variable. Real processes, started the way
 * operators start them (the compiled gateway, `node gateway/dist/main.js`).
 *
 * Nothing here depends on the engine under test, so the file runs once (`*.once.test.ts`: the
 * SQLite pass only, vitest.config.ts); the cases that need a PostgreSQL server to refuse the
 * connection are left out by `pnpm test:sqlite`, for machines without one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { variables } from '../../gateway/src/config';
import { connect, type Database } from '../../gateway/src/db/connect';
import { migrate } from '../../gateway/src/db/migrate';
import { builtGateway } from '../harness/built-gateway';
import { freshDatabase, pgAdminUrl } from '../harness/db';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Another user to run the gateway as (root only). */
interface User {
  uid: number;
  gid: number;
}

/**
 * Runs the gateway until it exits (or kills it after `timeoutMs`: a gateway that should have
 * stopped and did not fails the test). The environment is the caller's minus every variable the
 * gateway reads, so a PORT or DATABASE_URL of the machine running the tests cannot leak in.
 */
function runGateway(env: Record<string, string>, args: string[] = [], timeoutMs = 30_000, as?: User): Promise<Ended> {
  const base = { ...process.env };
  for (const v of variables) delete base[v.name];
  const child = spawn(process.execPath, [builtGateway(), ...args], {
    cwd: root,
    env: { ...base, HOST: '127.0.0.1', FLEXGATE_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr });
    });
  });
}

/** Exit code 2 and exactly one line on stderr, matching `line`; no stack trace anywhere. */
function expectOneLine(ended: Ended, line: RegExp): string {
  const context = JSON.stringify(ended);
  expect(ended.signal, context).toBeNull();
  expect(ended.code, context).toBe(2);
  const lines = ended.stderr.split('\n').filter((l) => l !== '');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^flexgate: /);
  expect(lines[0], context).toMatch(line);
  expect(ended.stderr + ended.stdout, context).not.toMatch(/\n\s+at |Error:/);
  return lines[0] as string;
}

/** A database migrated by this version, then marked as migrated by a newer one (a migration this code lacks). */
async function migratedByNewer(url: string): Promise<void> {
  const database = connect({ url });
  try {
    await migrate(database);
    await sql`insert into kysely_migration (name, timestamp) values ('999_future', '2099-01-01T00:00:00.000Z')`.execute(database.db);
  } finally {
    await database.close();
  }
}

/** A migrated SQLite database in a directory of its own; the handle stays open for the caller. */
async function migratedSqlite(name: string): Promise<{ path: string; database: Database }> {
  mkdirSync(join(dir, name));
  const path = join(dir, name, 'flexgate.db');
  const database = connect({ url: `sqlite:${path}` });
  await migrate(database);
  return { path, database };
}

const NEWER =
  /^flexgate: the database was migrated by a newer flexgate \(migration 999_future, unknown to this version\): run that version or a newer one$/;

let dir = '';
/** A SQLite URL in a directory that does not exist yet: it exists afterwards only if the gateway created it. */
let sqliteUrl = '';
let sqliteDir = '';
let occupied: Server;
let busyPort = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexgate-startup-'));
  sqliteDir = join(dir, 'data');
  sqliteUrl = `sqlite:${join(sqliteDir, 'flexgate.db')}`;
  occupied = createServer();
  await new Promise<void>((res) => occupied.listen(0, '127.0.0.1', res));
  busyPort = (occupied.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((res) => occupied?.close(res));
  rmSync(dir, { recursive: true, force: true });
});

describe('starting the gateway: help and configuration problems', () => {
  it('--help and -h list the options and every variable with its default, and exit 0', async () => {
    const [long, short] = await Promise.all([runGateway({ PORT: 'abc' }, ['--help']), runGateway({}, ['-h'])]);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stderr).toBe('');
    expect(short.stdout).toBe(long.stdout);
    expect(long.stdout).toContain('--cluster N');
    for (const v of variables) {
      expect(long.stdout, v.name).toContain(v.default === undefined ? `  ${v.name} (unset)` : `  ${v.name}=`);
      if (v.default !== undefined) expect(long.stdout, v.name).toContain(v.default);
    }
  });

  it('an invalid variable: one line naming it, exit 2, no database file or directory created', async () => {
    const ended = await runGateway({ PORT: 'abc', DATABASE_URL: sqliteUrl });
    expect(expectOneLine(ended, /PORT/)).toBe('flexgate: PORT must be a whole number from 0 to 65535, not "abc"');
    expect(existsSync(sqliteDir)).toBe(false);
  });

  it('several invalid variables: one line each, and a secret is never echoed', async () => {
    const key = `short${randomBytes(2).toString('hex')}`;
    const ended = await runGateway({ PORT: 'abc', FLEXGATE_LOG: 'loud', FLEXGATE_OPERATOR_KEY: key, DATABASE_URL: sqliteUrl });
    expect(ended.code).toBe(2);
    const lines = ended.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^flexgate: PORT must be/);
    expect(lines[1]).toMatch(
      /^flexgate: FLEXGATE_OPERATOR_KEY must be a value of at least 16 characters, with other than exactly two dots \(an ID token's shape\), not a 9-character value$/,
    );
    expect(lines[2]).toMatch(/^flexgate: FLEXGATE_LOG must be one of debug, info, warn, error or silent, not "loud"$/);
    expect(ended.stderr).not.toContain(key);
    expect(existsSync(sqliteDir)).toBe(false);
  });

  it('an unknown option: one line, exit 2', async () => {
    expectOneLine(await runGateway({ DATABASE_URL: sqliteUrl }, ['--frob']), /unknown option --frob; pnpm gateway --help/);
  });

  it('a port in use: one line naming the port, exit 2, and the database is never touched', async () => {
    const ended = await runGateway({ PORT: String(busyPort), DATABASE_URL: sqliteUrl });
    expectOneLine(
      ended,
      new RegExp(`port ${busyPort} on 127\\.0\\.0\\.1 is already in use \\(another gateway\\?\\); set PORT to another port$`),
    );
    expect(existsSync(sqliteDir)).toBe(false);
  });

  it('a port in use with --cluster 2: the primary prints the one line once and everything exits 2 (no respawn loop)', async () => {
    const ended = await runGateway({ PORT: String(busyPort), DATABASE_URL: sqliteUrl }, ['--cluster', '2']);
    expectOneLine(ended, new RegExp(`port ${busyPort} on 127\\.0\\.0\\.1 is already in use`));
    expect(existsSync(sqliteDir)).toBe(false);
  });

  it('PostgreSQL not listening: one line with the address and the URL, password masked, exit 2', async () => {
    const password = `pw${randomBytes(6).toString('hex')}`;
    const ended = await runGateway({ DATABASE_URL: `postgres://flex:${password}@127.0.0.1:1/flexgate` });
    const line = expectOneLine(ended, /cannot reach PostgreSQL at 127\.0\.0\.1:1 \(connection refused\): is it running\?/);
    expect(line).toContain('DATABASE_URL=postgres://flex:***@127.0.0.1:1/flexgate');
    expect(ended.stderr).not.toContain(password);
  });

  it('PostgreSQL not listening with --cluster 2: the same one line, once', async () => {
    const ended = await runGateway({ DATABASE_URL: 'postgres://flex@127.0.0.1:1/flexgate', PORT: '0' }, ['--cluster', '2']);
    expectOneLine(ended, /cannot reach PostgreSQL at 127\.0\.0\.1:1 \(connection refused\)/);
  });

  it.skipIf(!existsSync('/proc/self'))('a SQLite path where no file can be created: one line, exit 2 (it used to hang)', async () => {
    const ended = await runGateway({ DATABASE_URL: 'sqlite:/proc/flexgate-nowhere/flexgate.db', PORT: '0' }, [], 20_000);
    expectOneLine(ended, /cannot create the directory \/proc\/flexgate-nowhere for the SQLite database/);
  });

  it('a DATABASE_URL with a leading space or a missing slash: one line, the password never echoed', async () => {
    for (const url of [' postgres://app:Sup3rSecret@db.example/flex', 'postgres:/app:Sup3rSecret@db.example/flex']) {
      const ended = await runGateway({ DATABASE_URL: url, PORT: '0' });
      expectOneLine(ended, /^flexgate: DATABASE_URL must be sqlite:PATH/);
      expect(ended.stderr).not.toContain('Sup3rSecret');
    }
  });

  it('a PostgreSQL URL pg cannot read (a port that is not a number, an unencoded / ? or # in the password): one line naming DATABASE_URL, exit 2', async () => {
    const cases: [string, RegExp][] = [
      ['postgres://postgres:pw@127.0.0.1:abc/x', /not "postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:abc\/x": it is not a valid URL/],
      ['postgres://postgres:p/ssw0rd@127.0.0.1:5432/x', /must be percent-encoded as %2F %3F %23$/],
      ['postgres://postgres:p?ssw0rd@127.0.0.1:5432/x', /must be percent-encoded as %2F %3F %23$/],
      ['postgres://postgres:p@ssw#rd@127.0.0.1:5432/nodb', /not "postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/nodb": a \/ \? or #/],
    ];
    const ended = await Promise.all(cases.map(([url]) => runGateway({ DATABASE_URL: url, PORT: '0' })));
    cases.forEach(([url, line], i) => {
      const run = ended[i] as Ended;
      expect(expectOneLine(run, line), url).toMatch(/^flexgate: DATABASE_URL must be /);
      expect(run.stderr, url).not.toMatch(/pw@|p\/ssw0rd|p\?ssw0rd|ssw#rd/);
    });
  });

  it('--cluster 2 on an in-memory SQLite database: one line, exit 2 (each worker would have its own database)', async () => {
    const ended = await runGateway({ DATABASE_URL: 'sqlite::memory:', PORT: '0' }, ['--cluster', '2']);
    expectOneLine(ended, /^flexgate: --cluster 2 with DATABASE_URL=sqlite::memory: would give every worker its own database/);
  });

  it('a FLEXGATE_SCRYPT_N beyond what scrypt can run: one line, exit 2, not a start whose sign-ins all fail', async () => {
    const ended = await runGateway({ DATABASE_URL: 'sqlite::memory:', PORT: '0', FLEXGATE_SCRYPT_N: '12884901888' });
    expectOneLine(ended, /^flexgate: FLEXGATE_SCRYPT_N must be a power of two from 1024 to 1048576/);
  });

  it('a SQLite database migrated by a newer flexgate: one line naming the migration, exit 2', async () => {
    const path = join(dir, 'newer', 'flexgate.db');
    mkdirSync(dirname(path));
    await migratedByNewer(`sqlite:${path}`);
    expectOneLine(await runGateway({ DATABASE_URL: `sqlite:${path}`, PORT: '0' }), NEWER);
  });

  it('a SQLite database another process keeps write-locked beyond 10 s: one line, exit 2', async () => {
    const { path, database } = await migratedSqlite('locked');
    database.sqlite?.exec('begin immediate');
    try {
      const ended = await runGateway({ DATABASE_URL: `sqlite:${path}`, PORT: '0' }, [], 25_000);
      expectOneLine(ended, new RegExp(`^flexgate: the SQLite database ${path} stayed locked by another process for more than 10 s`));
    } finally {
      database.sqlite?.exec('rollback');
      await database.close();
    }
  }, 40_000);

  // Needs root (to start the gateway as another user) and a checkout that user can read: a clone
  // under a private directory (mktemp -d is 0700) cannot be run by it at all.
  const nobody = { uid: 65534, gid: 65534 };
  const runnableAsNobody =
    process.getuid?.() === 0 && spawnSync('test', ['-r', builtGateway()], { uid: nobody.uid, gid: nobody.gid }).status === 0;
  /** A migrated database in a directory the other user owns; `leftByRoot` stay root's, read-only to it. */
  async function startedAsNobody(name: string, leftByRoot: (path: string) => string[]): Promise<{ path: string; ended: Ended }> {
    const { path, database } = await migratedSqlite(name);
    await database.close();
    chmodSync(dir, 0o755);
    chownSync(dirname(path), nobody.uid, nobody.gid);
    chownSync(path, nobody.uid, nobody.gid);
    // What a start as root leaves behind: files the other user may read but not write.
    for (const file of leftByRoot(path)) {
      if (existsSync(file)) chownSync(file, 0, 0);
      else writeFileSync(file, '');
      chmodSync(file, 0o644);
    }
    return { path, ended: await runGateway({ DATABASE_URL: `sqlite:${path}`, PORT: '0' }, [], 30_000, nobody) };
  }

  it.skipIf(!runnableAsNobody)(
    'a SQLite database file left by root, the gateway started as another user: one line naming it, exit 2 (it used to start read-only)',
    async () => {
      const { path, ended } = await startedAsNobody('root-owned', (p) => [p]);
      expectOneLine(
        ended,
        new RegExp(`^flexgate: the SQLite database ${path} cannot be written by user \\S+: ${path} is not writable by it`),
      );
    },
  );

  it.skipIf(!runnableAsNobody)(
    'SQLite -wal and -shm files left by root, the gateway started as another user: one line naming them, exit 2',
    async () => {
      const { path, ended } = await startedAsNobody('readonly', (p) => [`${p}-wal`, `${p}-shm`]);
      expectOneLine(
        ended,
        new RegExp(
          `^flexgate: the SQLite database ${path} cannot be written by user \\S+: ${path}-wal, ${path}-shm are not writable by it`,
        ),
      );
    },
  );

  it('a request that arrives while the database is being prepared waits and is answered, not refused', async () => {
    // A port that was free a moment ago: the test must know it before the gateway says anything.
    const probe = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const port = (probe.address() as { port: number }).port;
    await new Promise((res) => probe.close(res));
    const child = spawn(process.execPath, [builtGateway()], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'held', 'db.sqlite')}`,
        FLEXGATE_LOG: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      // The first request the port accepts: before the gateway is ready, it is held until it is.
      let answer: Response | null = null;
      for (let i = 0; i < 600 && !answer; i++) {
        answer = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
        if (!answer) await new Promise((r) => setTimeout(r, 25));
      }
      expect(answer?.status, stderr).toBe(200);
      expect(await answer?.json()).toEqual({ ok: true, engine: 'sqlite' });
      expect(stderr).toContain(`listening on http://127.0.0.1:${port}`);
      expect(readdirSync(join(dir, 'held'))).toContain('db.sqlite');
    } finally {
      const exited = new Promise((res) => child.once('close', res));
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe.skipIf(process.env.FLEXGATE_TEST_SKIP_POSTGRES === '1')('starting the gateway: PostgreSQL refuses the connection', () => {
  const url = (user: string | null, database: string) => {
    const u = new URL(pgAdminUrl);
    if (user) u.username = user;
    u.pathname = `/${database}`;
    return u.toString();
  };

  it('a database that does not exist: one line naming it, exit 2', async () => {
    const name = `flexgate_missing_${randomBytes(4).toString('hex')}`;
    const ended = await runGateway({ DATABASE_URL: url(null, name), PORT: '0' });
    expectOneLine(ended, new RegExp(`PostgreSQL at .+ refused the connection \\(database "${name}" does not exist\\): create it`));
  });

  it('a database migrated by a newer flexgate: one line naming the migration, exit 2', async () => {
    const database = await freshDatabase('postgres');
    try {
      await migratedByNewer(database.url);
      expectOneLine(await runGateway({ DATABASE_URL: database.url, PORT: '0' }), NEWER);
    } finally {
      await database.drop();
    }
  });

  it('a role that does not exist: one line naming it, exit 2', async () => {
    const role = `nobody_${randomBytes(4).toString('hex')}`;
    const ended = await runGateway({ DATABASE_URL: url(role, 'postgres'), PORT: '0' });
    expectOneLine(ended, new RegExp(`refused the connection \\(.*"${role}".*\\): check the user and password in DATABASE_URL=`));
  });
});
