/**
 * `node --import tsx test/bench/ab.ts <dirA> <dirB> [seconds]`: two checkouts' gateways side by side
 * on warm launches (`AB_MODE=cold`: cold ones, each (user, product) pair once, every launch opening a
 * session and charging; `AB_ENGINE=postgres`: each gateway on a fresh database of the local server). `floor` as dirA: a bare node:http server (floor-server.ts) answering B's own
 * warm answer to the same requests, i.e. what Node and the kernel cost before the gateway does anything. Both run at once (each its own process and SQLite file, seeded alike); the load
 * generator (undici, 64 connections, closed loop) switches between them every 250 ms, so both see
 * the same phases of a machine whose speed changes by up to 2x from one minute to the next, which
 * separate runs minutes apart cannot tell from a change in the code. Prints req/s, p50/p99 and the
 * main thread's CPU per request of each, from the slices it served. A setting on one side only:
 * `AB_NODE_ARGS_A`/`_B` (node's flags for that gateway), `AB_PG_OPTIONS_A`/`_B` (PostgreSQL
 * settings for its connections, e.g. `-c jit=off`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { freshDatabase } from '../harness/db';
import { prewarm, seedFleet } from './fleet';
import { postgresCpu, postgresSpent, procCpu } from './proc';

const [dirA, dirB] = [process.argv[2], process.argv[3]].map((d) => resolve(d ?? '.'));
const seconds = Number(process.argv[4] ?? 30);
const SLICE_MS = 250;
const cold = process.env.AB_MODE === 'cold';
const engine = process.env.AB_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
// Cold: enough users that neither side runs out of fresh pairs (10 a user) at up to 9,000 launches/s.
const coldUsers = cold ? Number(process.env.AB_COLD_USERS ?? Math.ceil((seconds / 2 + 3) * 900)) : 1;
const databases: { drop(): Promise<void> }[] = [];

async function gateway(dir: string, side: 'A' | 'B') {
  const key = `ab-${randomBytes(8).toString('hex')}`;
  const database = engine === 'postgres' ? await freshDatabase('postgres') : null;
  if (database) databases.push(database);
  const options = process.env[`AB_PG_OPTIONS_${side}`];
  const url0 = database
    ? `${database.url}${options ? `?options=${encodeURIComponent(options)}` : ''}`
    : `sqlite:${join(mkdtempSync(join(tmpdir(), 'fg-ab-')), 'db.sqlite')}`;
  const child = spawn(
    process.execPath,
    [...(process.env[`AB_NODE_ARGS_${side}`] ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'gateway/src/main.ts'],
    {
      cwd: dir,
      env: {
        ...process.env,
        PORT: '0',
        DATABASE_URL: url0,
        FLEXGATE_OPERATOR_KEY: key,
        FLEXGATE_RATE_LIMIT: 'off',
        FLEXGATE_SCRYPT_N: '1024',
        FLEXGATE_LOG: 'warn',
        FLEXGATE_ID_TOKEN_TTL: String(86400),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    const on = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m?.[1]) res(m[1]);
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', () => rej(new Error(out)));
  });
  const fleet = await seedFleet(url, key, { warm: cold ? 1 : 1000, cold: coldUsers, refused: 1 });
  if (!cold) await prewarm(url, fleet);
  return { url, child, fleet, next: 0 };
}

/** CPU seconds of a process's main thread (its task whose id is the pid). */
const mainCpu = (pid: number) => procCpu(`/proc/${pid}/task/${pid}/stat`);
/**
 * PostgreSQL: the CPU of the server's processes, by pid. Only one side runs at a time, so what
 * they spend during a slice is that side's (a backend that exits within the slice is lost).
 */
const serverCpu = () => (engine === 'postgres' ? postgresCpu() : new Map<number, number>());

type Fleet = Awaited<ReturnType<typeof seedFleet>>;

/** The floor server, answering what the gateway answers to a warm launch of `fleet`. */
async function floor(of: { url: string; fleet: Fleet }): Promise<{ url: string; child: ChildProcess; fleet: Fleet }> {
  const res = await fetch(`${of.url}/v1/launch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${of.fleet.warm[0]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ product: of.fleet.products[0]?.key }),
  });
  const body = await res.text();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/floor-server.ts'], {
    env: { ...process.env, FLOOR_BODY: body },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((ok) =>
    child.stdout?.on('data', (d: Buffer) => {
      const m = /listening on (\S+)/.exec(String(d));
      if (m?.[1]) ok(m[1]);
    }),
  );
  return { url, child, fleet: of.fleet };
}

// Both seeded at once (cold fleets take a minute or two each).
const [a, b] =
  process.argv[2] === 'floor'
    ? await gateway(dirB as string, 'B').then(async (g) => [{ ...(await floor(g)), next: 0 }, g] as const)
    : await Promise.all([gateway(dirA as string, 'A'), gateway(dirB as string, 'B')]);
const targets = [
  { name: 'A', dir: process.argv[2] === 'floor' ? 'floor (node:http, fixed answer)' : dirA, ...a },
  { name: 'B', dir: dirB, ...b },
];
const stats = targets.map(() => ({ lat: [] as number[], ms: 0, cpu: 0, db: 0 }));
const pools = targets.map((t) => new Pool(t.url, { connections: Number(process.env.AB_CONNECTIONS ?? 64), pipelining: 1 }));
const slice = async (i: number, record: boolean) => {
  const t = targets[i] as (typeof targets)[number];
  const pool = pools[i] as Pool;
  const db0 = serverCpu();
  const cpu0 = mainCpu(t.child.pid as number);
  const start = performance.now();
  const deadline = start + SLICE_MS;
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < deadline) {
        // Warm: a user's own product, its session open. Cold: the side's next unused (user, product) pair.
        const u = cold ? t.next++ : Math.floor(Math.random() * t.fleet.warm.length);
        const token = cold ? t.fleet.cold[Math.floor(u / 10)] : t.fleet.warm[u];
        if (!token) throw new Error(`${t.name}: out of cold users`);
        const t0 = performance.now();
        const res = await pool.request({
          method: 'POST',
          path: '/v1/launch',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ product: t.fleet.products[u % 10]?.key }),
        });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`${t.name}: ${res.statusCode}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  if (!record) return;
  const s = stats[i] as (typeof stats)[number];
  s.ms += performance.now() - start;
  s.cpu += mainCpu(t.child.pid as number) - cpu0;
  s.db += postgresSpent(db0, serverCpu());
  for (const l of lat) s.lat.push(l);
};
for (let k = 0; k < 8; k++) await slice(k % 2, false); // JIT warm-up of both
const slices = Math.round((seconds * 1000) / SLICE_MS);
// ABBA order: neither side always follows the other.
for (let k = 0; k < slices; k++) await slice([0, 1, 1, 0][k % 4] as number, true);
for (const [i, t] of targets.entries()) {
  const s = stats[i] as (typeof stats)[number];
  const sorted = s.lat.sort((a, b) => a - b);
  const q = (p: number) => (sorted[Math.floor(p * sorted.length)] ?? 0).toFixed(2);
  console.log(
    `${t.name} ${t.dir}: ${Math.round(sorted.length / (s.ms / 1000))} req/s, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, main thread ${Math.round((s.cpu / sorted.length) * 1e6)} us/request${engine === 'postgres' ? `, PostgreSQL ${Math.round((s.db / sorted.length) * 1e6)} us/request` : ''}`,
  );
}
await Promise.all(pools.map((p) => p.close()));
for (const t of targets) t.child.kill('SIGTERM');
await Promise.all(targets.map((t) => new Promise((r) => (t.child.exitCode === null ? t.child.once('exit', r) : r(null)))));
for (const d of databases) await d.drop();
