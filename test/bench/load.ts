import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { Workload } from './workloads';

export interface Request {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Status codes that count as the expected answer for this request. */
  expect: number[];
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  statuses: Record<number, number>;
  /** Measured requests answered by each origin, in the order given (an instance left idle shows). */
  byOrigin: number[];
  /** Requests sent during the warm-up, not measured. */
  warmupRequests: number;
}

export interface LoadOptions {
  connections: number;
  seconds: number;
  warmupSeconds?: number;
  /** Each request on a connection of its own, closed after its answer, as a product launched anew opens one. */
  fresh?: boolean;
}

export interface LoadJob {
  /** One origin, or several gateway instances on one database (`pnpm bench --instances N`). */
  origins: string[];
  workload: Workload;
  opts: LoadOptions;
}

/**
 * A closed-loop load: `connections` workers each send the next request as soon as the previous
 * answered, for `seconds`. Bounded in time and aimed at 127.0.0.1 origins only. With several
 * origins, worker k keeps to origin k mod N (round-robin over connections, as a load balancer
 * with keep-alive spreads clients): each instance gets its share of the loop, and one request
 * sequence feeds them all, so cold pairs still never repeat across instances.
 */
export async function runLoad(origins: string | string[], next: (i: number) => Request, opts: LoadOptions): Promise<LoadResult> {
  const list = typeof origins === 'string' ? [origins] : origins;
  if (list.length === 0 || list.length > opts.connections) throw new Error(`1 to ${opts.connections} origins, not ${list.length}`);
  for (const origin of list)
    if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(origin)) throw new Error(`load tests target loopback only: ${origin}`);
  // Origin i serves workers i, i + N, ...: ceil((connections - i) / N) of them.
  const pools = list.map(
    (origin, i) =>
      new Pool(origin, { connections: Math.ceil((opts.connections - i) / list.length), pipelining: 1, keepAliveTimeout: 30_000 }),
  );
  // A new connection a request runs out of one address's ephemeral ports within seconds (each
  // closed one waits a minute in TIME-WAIT) and connect() slows long before: each worker gets an
  // address of its own in 127/8, as launches come from many machines.
  const ownPools = opts.fresh
    ? Array.from(
        { length: opts.connections },
        (_, k) =>
          new Pool(list[k % list.length] as string, {
            connections: 1,
            pipelining: 1,
            localAddress: `127.1.${(k + 1) >> 8}.${(k + 1) & 255}`,
          }),
      )
    : [];
  let counter = 0;
  const one = async (pool: Pool) => {
    const r = next(counter++);
    const t0 = performance.now();
    const res = await pool.request({ method: r.method, path: r.path, headers: r.headers, body: r.body, reset: opts.fresh === true });
    await res.body.dump();
    return { ms: performance.now() - t0, status: res.statusCode, ok: r.expect.includes(res.statusCode) };
  };
  const phase = async (seconds: number, record: boolean) => {
    const latencies: number[] = [];
    const statuses: Record<number, number> = {};
    const byOrigin = pools.map(() => 0);
    let errors = 0;
    let sent = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: opts.connections }, async (_, k) => {
        const o = k % pools.length;
        const pool = (ownPools[k] ?? pools[o]) as Pool;
        while (performance.now() < deadline) {
          try {
            sent++;
            const { ms, status, ok } = await one(pool);
            if (!record) continue;
            latencies.push(ms);
            byOrigin[o] = (byOrigin[o] as number) + 1;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (!ok) errors++;
          } catch {
            if (record) errors++;
          }
        }
      }),
    );
    return { latencies, statuses, byOrigin, errors, sent, elapsed: (performance.now() - started) / 1000 };
  };
  const warmupRequests = opts.warmupSeconds ? (await phase(opts.warmupSeconds, false)).sent : 0;
  const { latencies, statuses, byOrigin, errors, elapsed } = await phase(opts.seconds, true);
  await Promise.all([...pools, ...ownPools].map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    errors,
    seconds: elapsed,
    rps: latencies.length / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    p999: q(0.999),
    max: latencies.at(-1) ?? 0,
    statuses,
    byOrigin,
    warmupRequests,
  };
}

/**
 * `runLoad` in a fresh process of its own (load-child.ts), which is how `pnpm bench` measures: the
 * load generator's heap holds only its requests, not the fleet and whatever seeding left, so its
 * own collections stay short. Also answers the load generator's CPU per request sent.
 */
export function runLoadApart(
  origins: string | string[],
  workload: Workload,
  opts: LoadOptions,
): Promise<LoadResult & { loaderCpuUs: number }> {
  const child = fork(fileURLToPath(new URL('./load-child.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let answered = false;
    child.once('message', (m: { ok: true; result: LoadResult & { loaderCpuUs: number } } | { ok: false; error: string }) => {
      answered = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(`load generator: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`load generator exited with ${code} before answering`));
    });
    child.send({ origins: typeof origins === 'string' ? [origins] : origins, workload, opts } satisfies LoadJob);
  });
}
