/**
 * `pnpm bench --only signin-flood`: cold launches while one address signs in as fast as its
 * limits allow, against the same cold launches with no flood, on one gateway configured as in
 * production (scrypt at its default cost, rate limits on). The flood: 30 accounts, 280 sign-ins in
 * flight from one address, each sent again as soon as it is answered (the per-address bucket
 * gives 300 at once, then 5 a second; every admitted one costs a real scrypt).
 */
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { Pool } from 'undici';
import { freshDatabase } from '../harness/db';
import { api, seedFleet } from './fleet';
import { type LoadResult, runLoadApart } from './load';
import { start } from './proc';

const FLOOD_ACCOUNTS = 30;
const FLOOD_IN_FLIGHT = 280;
const LAUNCH_CONNECTIONS = 8;

interface FloodResult {
  sent: number;
  statuses: Record<number, number>;
}

/** Sign-ins from one address, `inFlight` at a time, until `stop` resolves. */
async function flood(url: string, accounts: { autodeskId: string; password: string }[], stop: Promise<void>): Promise<FloodResult> {
  const pool = new Pool(url, { connections: FLOOD_IN_FLIGHT, pipelining: 1 });
  let done = false;
  void stop.then(() => {
    done = true;
  });
  const statuses: Record<number, number> = {};
  let sent = 0;
  await Promise.all(
    Array.from({ length: FLOOD_IN_FLIGHT }, async (_, k) => {
      while (!done) {
        const acc = accounts[(k + sent) % accounts.length] as { autodeskId: string; password: string };
        sent++;
        try {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/signin',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(acc),
          });
          await res.body.dump();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        } catch {
          statuses[0] = (statuses[0] ?? 0) + 1;
        }
      }
    }),
  );
  await pool.close();
  return { sent, statuses };
}

export async function signinFlood(o: { seconds: number; write: boolean; append: (table: string) => void }): Promise<void> {
  const db = await freshDatabase('sqlite');
  const operatorKey = `bench-${randomBytes(8).toString('hex')}`;
  const common = {
    PORT: '0',
    DATABASE_URL: db.url,
    FLEXGATE_OPERATOR_KEY: operatorKey,
    FLEXGATE_TEST_CLOCK: '1',
    FLEXGATE_LOG: 'warn',
    FLEXGATE_KEK: randomBytes(32).toString('base64url'),
  };
  // The fleet is seeded by a gateway with a cheap scrypt (seconds, not minutes); its tokens stay valid.
  const seeder = await start(['gateway/src/main.ts'], {
    ...common,
    FLEXGATE_RATE_LIMIT: 'off',
    FLEXGATE_SCRYPT_N: '1024',
    FLEXGATE_ID_TOKEN_TTL: String(7 * 86400),
  });
  const fleet = await seedFleet(seeder.url, operatorKey, { warm: 0, cold: 3000, refused: 0 });
  await seeder.stop();
  // Then the gateway under test: default scrypt cost, threads and queue, default sign-in limits;
  // the launch limit per address raised, since every launch of the load comes from 127.0.0.1.
  const gw = await start(['gateway/src/main.ts'], {
    ...common,
    FLEXGATE_RATE_LAUNCH_PER_IP: '1000000',
    FLEXGATE_RATE_LAUNCH_PER_USER: '1000000',
  });
  try {
    const accounts = Array.from({ length: FLOOD_ACCOUNTS }, (_, i) => ({
      autodeskId: `flood-${i}@bench.example.com`,
      password: 'flood-password',
    }));
    for (const a of accounts) await api(gw.url, operatorKey, 'POST', '/v1/users', { ...a, name: a.autodeskId });
    const products = fleet.products.map((p) => p.key);
    let clock = Date.now();
    const day = async () => {
      clock += 25 * 3600_000;
      await api(gw.url, operatorKey, 'POST', '/v1/test/clock', { now: new Date(clock).toISOString() });
    };
    // Half the cold users for each phase, each phase on a day of its own: every launch opens a session.
    const half = (h: number) => fleet.cold.filter((_, i) => i % 2 === h);
    const cold = (h: number) =>
      runLoadApart(
        gw.url,
        { kind: 'cold', launches: { tokens: half(h), products } },
        { connections: LAUNCH_CONNECTIONS, seconds: o.seconds, warmupSeconds: 1 },
      );
    const health = () =>
      runLoadApart(
        gw.url,
        { kind: 'fixed', request: { method: 'GET', path: '/healthz', headers: {}, expect: [200] } },
        { connections: 1, seconds: o.seconds },
      );

    await day();
    const quiet = await cold(0);
    const quietHealth = await health();
    // The flood starts, fills the per-address bucket's burst, and then the launches and health checks run beside it.
    await day();
    let stopFlood = () => {};
    const stopped = new Promise<void>((r) => {
      stopFlood = r;
    });
    const flooding = flood(gw.url, accounts, stopped);
    await new Promise((r) => setTimeout(r, 500));
    const [loud, loudHealth] = await Promise.all([cold(1), health()]);
    stopFlood();
    const f = await flooding;

    const row = (name: string, r: LoadResult) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.errors} |`;
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    const statuses = Object.entries(f.statuses)
      .map(([s, n]) => `${n} × ${s === '0' ? 'connection error' : s}`)
      .join(', ');
    const table = [
      `### signin-flood, sqlite, 1 process: ${new Date().toISOString().slice(0, 16)}Z`,
      '',
      `Machine: ${machine}. Cold launches (${LAUNCH_CONNECTIONS} connections, closed loop, ${o.seconds} s after 1 s of warm-up) and GET /healthz (1 connection), first alone, then while ${FLOOD_IN_FLIGHT} sign-ins from one address are in flight (${FLOOD_ACCOUNTS} accounts, each sent again as soon as it is answered), all on the same 2 cores. Default scrypt cost, threads and queue; default sign-in limits. Flood answers: ${statuses}.`,
      '',
      '| run | req/s | p50 ms | p99 ms | max ms | errors |',
      '|---|---|---|---|---|---|',
      row('cold launches, no flood', quiet),
      row('cold launches, during the flood', loud),
      row('GET /healthz, no flood', quietHealth),
      row('GET /healthz, during the flood', loudHealth),
      '',
      `Cold launch p99 during the flood: ${loud.p99.toFixed(0)} ms, ${(loud.p99 / quiet.p99).toFixed(1)}x the quiet run's (target: under 1,000 ms).`,
      '',
    ].join('\n');
    console.log(`\n${table}`);
    if (o.write) o.append(table);
  } finally {
    await gw.stop();
    await db.drop();
  }
}
