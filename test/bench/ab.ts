/**
 * `node --import tsx test/bench/ab.ts <dirA> <dirB> [seconds]`: two checkouts' gateways side by side
 * on warm launches. `floor` as dirA: a bare node:http server (floor-server.ts) answering B's own
 * warm answer to the same requests, i.e. what Node and the kernel cost before the gateway does anything. Both run at once (each its own process and SQLite file, seeded alike); the load
 * generator (undici, 64 connections, closed loop) switches between them every 250 ms, so both see
 * the same phases of a machine whose speed changes by up to 2x from one minute to the next, which
 * separate runs minutes apart cannot tell from a change in the code. Prints req/s, p50/p99 and the
 * main thread's CPU per request of each, from the slices it served.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { prewarm, seedFleet } from './fleet';

const [dirA, dirB] = [process.argv[2], process.argv[3]].map((d) => resolve(d ?? '.'));
const seconds = Number(process.argv[4] ?? 30);
const SLICE_MS = 250;

async function gateway(dir: string) {
  const key = `ab-${randomBytes(8).toString('hex')}`;
  const db = join(mkdtempSync(join(tmpdir(), 'fg-ab-')), 'db.sqlite');
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: '0',
      DATABASE_URL: `sqlite:${db}`,
      FLEXGATE_OPERATOR_KEY: key,
      FLEXGATE_RATE_LIMIT: 'off',
      FLEXGATE_SCRYPT_N: '1024',
      FLEXGATE_LOG: 'warn',
      FLEXGATE_ID_TOKEN_TTL: String(86400),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  const fleet = await seedFleet(url, key, { warm: 1000, cold: 1, refused: 1 });
  await prewarm(url, fleet);
  return { url, child, fleet };
}

/** CPU seconds of a process's main thread (its task whose id is the pid). */
const mainCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
};

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

const b = await gateway(dirB as string);
const a = process.argv[2] === 'floor' ? await floor(b) : await gateway(dirA as string);
const targets = [
  { name: 'A', dir: process.argv[2] === 'floor' ? 'floor (node:http, fixed answer)' : dirA, ...a },
  { name: 'B', dir: dirB, ...b },
];
const stats = targets.map(() => ({ lat: [] as number[], ms: 0, cpu: 0 }));
const pools = targets.map((t) => new Pool(t.url, { connections: 64, pipelining: 1 }));
const slice = async (i: number, record: boolean) => {
  const t = targets[i] as (typeof targets)[number];
  const pool = pools[i] as Pool;
  const cpu0 = mainCpu(t.child.pid as number);
  const start = performance.now();
  const deadline = start + SLICE_MS;
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < deadline) {
        const u = Math.floor(Math.random() * t.fleet.warm.length);
        const t0 = performance.now();
        const res = await pool.request({
          method: 'POST',
          path: '/v1/launch',
          headers: { authorization: `Bearer ${t.fleet.warm[u]}`, 'content-type': 'application/json' },
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
    `${t.name} ${t.dir}: ${Math.round(sorted.length / (s.ms / 1000))} req/s, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, main thread ${Math.round((s.cpu / sorted.length) * 1e6)} us/request`,
  );
}
await Promise.all(pools.map((p) => p.close()));
for (const t of targets) t.child.kill('SIGTERM');
