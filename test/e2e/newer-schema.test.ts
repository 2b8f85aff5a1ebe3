/**
 * An instance left running through an upgrade: a newer flexgate migrates the shared database under
 * it. Within SCHEMA_CHECK_MS the old one logs one line naming both schema versions, refuses every
 * request with a 503 (a write that would have succeeded included), finishes what is in flight and
 * exits 3; started again, it refuses with the start's exit-2 line. Real processes, both engines.
 * The newer migration is faked as startup.once.test.ts fakes it: a row this version does not know.
 * The period is the real one (no variable shortens it): each case waits it out, about 5 s.
 */
import { spawn } from 'node:child_process';
import { connect as tcp } from 'node:net';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../gateway/src/db/connect';
import { SCHEMA_CHECK_MS } from '../../gateway/src/server';
import { builtGateway } from '../harness/built-gateway';
import { freshDatabase, type TestDatabase, testEngine } from '../harness/db';
import { type GatewayProcess, spawnGateway } from '../harness/process';

/** Detection within the period, then a drain with nothing slow in flight: a few seconds of slack for a loaded machine. */
const BOUND_MS = SCHEMA_CHECK_MS + 5_000;

const LINE =
  /the database was migrated by a newer flexgate while this one served \(migration 999_future, unknown to this version, whose newest is \d{3}_[a-z_]+\): it stops taking requests, finishes those in flight and exits 3; replace it with that version or a newer one/;

let database: TestDatabase | undefined;
let procs: GatewayProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  procs = [];
  await database?.drop();
  database = undefined;
}, 60_000);

/** What a newer flexgate's start leaves in the database: a migration this version does not have. Returns when it committed. */
async function migrateAsNewer(url: string): Promise<number> {
  const db = connect({ url });
  try {
    await sql`insert into kysely_migration (name, timestamp) values ('999_future', '2099-01-01T00:00:00.000Z')`.execute(db.db);
    return Date.now();
  } finally {
    await db.close();
  }
}

async function teamsNamed(url: string, name: string): Promise<number> {
  const db = connect({ url });
  try {
    return (await db.db.selectFrom('teams').select('id').where('name', '=', name).execute()).length;
  } finally {
    await db.close();
  }
}

/** The process's exit code, once it exited (SIGKILL after `timeoutMs`: a gateway that kept serving fails the test). */
function exitOf(proc: GatewayProcess, timeoutMs: number): Promise<number | null> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res(code);
    });
  });
}

async function waitFor(what: string, proc: GatewayProcess, cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${proc.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A request whose head is sent now but for its last line: the server has begun reading it, so a
 * drain does not close its connection as idle. `finish()` sends the rest and resolves with the raw
 * answer once the server closed the connection.
 */
async function halfSent(url: string, operatorKey: string, body: string): Promise<{ finish(): Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = tcp(Number(port), hostname);
  await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
  let answer = '';
  socket.on('data', (d) => (answer += d));
  const closed = new Promise<void>((res) => socket.once('close', () => res()));
  socket.on('error', () => {});
  socket.write(
    `POST /v1/teams HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${operatorKey}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`,
  );
  return {
    async finish() {
      socket.write(`\r\n${body}`);
      await closed;
      return answer;
    },
  };
}

/** Runs the gateway to its exit (a start is expected to be refused). */
function runToExit(url: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [builtGateway()], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, FLEXGATE_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((res) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stderr });
    }),
  );
}

/** The error lines the gateway logged about it (JSON on stdout). */
const linesAbout = (proc: GatewayProcess) =>
  proc
    .output()
    .split('\n')
    .filter((l) => l.includes('migrated by a newer flexgate'));

describe(`a newer flexgate migrates the ${testEngine()} database under a running one`, () => {
  it('logs one line naming both versions, refuses a write with 503, exits 3 within the bound; a restart is refused', async () => {
    database = await freshDatabase();
    const operatorKey = `op_${'k'.repeat(32)}`;
    const proc = await spawnGateway({ databaseUrl: database.url, operatorKey });
    procs.push(proc);

    // Before: a write goes through, and the same write half sent waits across the change.
    const before = await fetch(`${proc.url}/v1/teams`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Before the upgrade' }),
    });
    expect(before.status).toBe(201);
    const pending = await halfSent(proc.url, operatorKey, JSON.stringify({ name: 'After the upgrade' }));

    const migratedAt = await migrateAsNewer(database.url);
    await waitFor('the newer-schema line', proc, () => linesAbout(proc).length > 0, BOUND_MS);
    const answer = await pending.finish();
    const code = await exitOf(proc, BOUND_MS);
    const took = Date.now() - migratedAt;

    expect(code, proc.output()).toBe(3);
    expect(took, proc.output()).toBeLessThan(BOUND_MS);
    const lines = linesAbout(proc);
    expect(lines, proc.output()).toHaveLength(1);
    const logged = JSON.parse(lines[0] as string);
    expect(logged.level).toBe('error');
    expect(logged.msg).toMatch(LINE);
    expect(proc.output()).not.toMatch(/\n\s+at /);

    // The write sent after it noticed: a 503 problem to retry elsewhere, and nothing written.
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head, answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('content-type: application/problem+json');
    expect(head.toLowerCase()).toContain('retry-after: 1');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(body)).toMatchObject({ status: 503, code: 'service-unavailable' });
    expect(JSON.parse(body).detail).toMatch(/newer version of flexgate/);
    expect(await teamsNamed(database.url, 'After the upgrade')).toBe(0);
    expect(await teamsNamed(database.url, 'Before the upgrade')).toBe(1);

    // What a supervisor's restart meets: the start's refusal, one line, exit 2.
    const restart = await runToExit(database.url);
    expect(restart.code, restart.stderr).toBe(2);
    expect(restart.stderr).toMatch(
      /^flexgate: the database was migrated by a newer flexgate \(migration 999_future, unknown to this version\)/,
    );
  }, 60_000);

  it('--cluster 2: every worker stops and refuses, the primary exits 3 and starts no replacement', async () => {
    database = await freshDatabase();
    const operatorKey = `op_${'c'.repeat(32)}`;
    const proc = await spawnGateway({
      databaseUrl: database.url,
      operatorKey,
      args: ['--cluster', '2'],
      env: { FLEXGATE_LOG: 'info' },
      timeoutMs: 45_000,
    });
    procs.push(proc);
    // The primary's "listening on" (stderr) may come before the workers' own lines (stdout).
    const listening = () => new Set([...proc.output().matchAll(/"msg":"worker listening"[^\n]*?"pid":(\d+)/g)].map((m) => Number(m[1])));
    await waitFor('both workers to log that they listen', proc, () => listening().size === 2, BOUND_MS);
    const workers = listening();
    expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
    // On whichever worker the primary hands it to.
    const pending = await halfSent(proc.url, operatorKey, JSON.stringify({ name: 'After the upgrade' }));

    const migratedAt = await migrateAsNewer(database.url);
    const errors = () => linesAbout(proc).filter((l) => l.includes('"level":"error"'));
    await waitFor('both workers to notice', proc, () => errors().length >= 2, BOUND_MS);
    const answer = await pending.finish();
    const code = await exitOf(proc, BOUND_MS);
    const took = Date.now() - migratedAt;

    expect(code, proc.output()).toBe(3);
    expect(took, proc.output()).toBeLessThan(BOUND_MS);
    // Each worker is a gateway of its own and says so once; the primary names why it stopped.
    const lines = errors();
    expect(lines, proc.output()).toHaveLength(2);
    for (const l of lines) expect(JSON.parse(l).msg).toMatch(LINE);
    expect(answer, answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(await teamsNamed(database.url, 'After the upgrade')).toBe(0);
    expect(proc.output()).toContain('"reason":"the database was migrated by a newer flexgate"');
    expect(proc.output()).not.toMatch(/worker died|replacement worker/);
    for (const pid of workers) expect(() => process.kill(pid, 0), `worker ${pid} still running`).toThrow();
  }, 60_000);
});
