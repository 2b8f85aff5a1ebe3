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
 * settings for its connections, e.g. `-c jit=off`), `AB_INSTANCES_A`/`_B` (PostgreSQL: that many gateway
 * processes on the side's one database, its 64 connections spread over them round-robin, their main
 * threads' CPU summed: one instance against three, interleaved, where separate runs swing by ±20%).
 * `AB_FRESH=1`: each request on a new connection, closed after its answer (as a product launched
 * anew opens one), each of the 64 workers from an address of its own in 127/8. `AB_LOG_A`/`_B`: that
 * side's FLEXGATE_LOG (`warn` otherwise; `info`, the default of a deployment, writes a line a request),
 * its stdout a pipe to a process of its own that reads and drops it, as a log shipper would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { freshDatabase } from '../harness/db';
import { prewarm, seedFleet } from './fleet';
import { postgresCpu, postgresSpent, procCpu, procSys } from './proc';

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
  // One key-encryption key for the side: its instances share the signing keys stored in its database.
  const kek = randomBytes(32).toString('base64url');
  const database = engine === 'postgres' ? await freshDatabase('postgres') : null;
  if (database) databases.push(database);
  const options = process.env[`AB_PG_OPTIONS_${side}`];
  const instances = Number(process.env[`AB_INSTANCES_${side}`] ?? 1);
  if (!(Number.isInteger(instances) && instances >= 1 && instances <= 8)) throw new Error(`AB_INSTANCES_${side}: 1 to 8`);
  if (instances > 1 && !database) throw new Error(`AB_INSTANCES_${side}: PostgreSQL only (AB_ENGINE=postgres)`);
  const url0 = database
    ? `${database.url}${options ? `?options=${encodeURIComponent(options)}` : ''}`
    : `sqlite:${join(mkdtempSync(join(tmpdir(), 'fg-ab-')), 'db.sqlite')}`;
  const log = process.env[`AB_LOG_${side}`] ?? 'warn';
  const start = async () => {
    // Not this process: it is the load generator, and reading a line a request would slow it.
    const drain = log === 'warn' ? null : spawn('sh', ['-c', 'exec cat > /dev/null'], { stdio: ['pipe', 'ignore', 'ignore'] });
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
          FLEXGATE_LOG: log,
          FLEXGATE_ID_TOKEN_TTL: String(86400),
          FLEXGATE_KEK: kek,
        },
        stdio: ['ignore', drain?.stdin ?? 'pipe', 'pipe'],
      },
    );
    child.once('exit', () => drain?.kill());
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
    return { url, child };
  };
  const first = await start();
  const fleet = await seedFleet(first.url, key, { warm: cold ? 1 : 1000, cold: coldUsers, refused: 1 });
  if (!cold) await prewarm(first.url, fleet);
  // The others start on the seeded database, as instances joining a running deployment do.
  const others = await Promise.all(Array.from({ length: instances - 1 }, start));
  const all = [first, ...others];
  return { url: first.url, child: first.child, urls: all.map((g) => g.url), children: all.map((g) => g.child), fleet, next: 0 };
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
async function floor(of: {
  url: string;
  fleet: Fleet;
}): Promise<{ url: string; child: ChildProcess; urls: string[]; children: ChildProcess[]; fleet: Fleet }> {
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
  return { url, child, urls: [url], children: [child], fleet: of.fleet };
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
const stats = targets.map(() => ({ lat: [] as number[], ms: 0, cpu: 0, sys: 0, all: 0, load: 0, db: 0 }));
const connections = Number(process.env.AB_CONNECTIONS ?? 64);
// A side's connections spread over its instances, as a load balancer would.
const fresh = process.env.AB_FRESH === '1';
// Fresh: a pool a worker, so that each connects from its own address (load.ts says why).
const pools = targets.map((t, side) =>
  fresh
    ? Array.from(
        { length: connections },
        (_, c) =>
          new Pool(t.urls[c % t.urls.length] as string, {
            connections: 1,
            pipelining: 1,
            localAddress: `127.${2 + side}.${(c + 1) >> 8}.${(c + 1) & 255}`,
          }),
      )
    : t.urls.map((u) => new Pool(u, { connections: Math.ceil(connections / t.urls.length), pipelining: 1 })),
);
/** The main threads' CPU of a side's processes, summed. */
const sideCpu = (t: (typeof targets)[number]) => t.children.reduce((s, c) => s + mainCpu(c.pid as number), 0);
const sideSys = (t: (typeof targets)[number]) => t.children.reduce((s, c) => s + procSys(`/proc/${c.pid}/task/${c.pid}/stat`), 0);
/** Every thread of a side's processes (V8's helpers, libuv's pool, the checkpointer), summed. */
const sideAll = (t: (typeof targets)[number]) => t.children.reduce((s, c) => s + procCpu(`/proc/${c.pid}/stat`), 0);
/** This process: the load generator, whose share of the two cores a side's answers also cost. */
const loadCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const slice = async (i: number, record: boolean) => {
  const t = targets[i] as (typeof targets)[number];
  const sidePools = pools[i] as Pool[];
  const db0 = serverCpu();
  const cpu0 = sideCpu(t);
  const sys0 = sideSys(t);
  const all0 = sideAll(t);
  const load0 = loadCpu();
  const start = performance.now();
  const deadline = start + SLICE_MS;
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const pool = (fresh ? sidePools[c] : sidePools[c % sidePools.length]) as Pool;
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
          reset: fresh,
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
  s.cpu += sideCpu(t) - cpu0;
  s.sys += sideSys(t) - sys0;
  s.all += sideAll(t) - all0;
  s.load += loadCpu() - load0;
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
    `${t.name} ${t.dir}${t.urls.length > 1 ? ` (${t.urls.length} instances)` : ''}: ${Math.round(sorted.length / (s.ms / 1000))} req/s, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, main thread ${Math.round((s.cpu / sorted.length) * 1e6)} us/request (${Math.round((s.sys / sorted.length) * 1e6)} in the kernel), all its threads ${Math.round((s.all / sorted.length) * 1e6)}, the load generator ${Math.round((s.load / sorted.length) * 1e6)}${engine === 'postgres' ? `, PostgreSQL ${Math.round((s.db / sorted.length) * 1e6)} us/request` : ''}`,
  );
}
/** A side's charge groups over the whole run (warm-up included), summed over its instances. */
async function groupsOf(urls: string[]): Promise<string> {
  let [charges, groups, restarts] = [0, 0, 0];
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const sum = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    charges += sum('flexgate_charge_group_launches_sum');
    groups += sum('flexgate_charge_group_launches_count');
    restarts += sum('flexgate_charge_group_restarts_total');
  }
  return groups ? `${groups} charge groups of ${(charges / groups).toFixed(1)} launches, ${restarts} restarted` : 'no charge groups';
}
if (process.argv[2] !== 'floor') for (const t of targets) console.log(`${t.name}: ${await groupsOf(t.urls)}`);
await Promise.all(pools.flat().map((p) => p.close()));
const children = targets.flatMap((t) => t.children);
for (const c of children) c.kill('SIGTERM');
await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))));
for (const d of databases) await d.drop();
