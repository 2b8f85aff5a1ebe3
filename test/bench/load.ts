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
  /** Requests sent during the warm-up, not measured. */
  warmupRequests: number;
}

export interface LoadOptions {
  connections: number;
  seconds: number;
  warmupSeconds?: number;
}

export interface LoadJob {
  origin: string;
  workload: Workload;
  opts: LoadOptions;
}

/**
 * A closed-loop load: `connections` workers each send the next request as soon as the previous
 * answered, for `seconds`. Bounded in time and aimed at one 127.0.0.1 origin.
 */
export async function runLoad(origin: string, next: (i: number) => Request, opts: LoadOptions): Promise<LoadResult> {
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(origin)) throw new Error(`load tests target loopback only: ${origin}`);
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  let counter = 0;
  const one = async () => {
    const r = next(counter++);
    const t0 = performance.now();
    const res = await pool.request({ method: r.method, path: r.path, headers: r.headers, body: r.body });
    await res.body.dump();
    return { ms: performance.now() - t0, status: res.statusCode, ok: r.expect.includes(res.statusCode) };
  };
  const phase = async (seconds: number, record: boolean) => {
    const latencies: number[] = [];
    const statuses: Record<number, number> = {};
    let errors = 0;
    let sent = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: opts.connections }, async () => {
        while (performance.now() < deadline) {
          try {
            sent++;
            const { ms, status, ok } = await one();
            if (!record) continue;
            latencies.push(ms);
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (!ok) errors++;
          } catch {
            if (record) errors++;
          }
        }
      }),
    );
    return { latencies, statuses, errors, sent, elapsed: (performance.now() - started) / 1000 };
  };
  const warmupRequests = opts.warmupSeconds ? (await phase(opts.warmupSeconds, false)).sent : 0;
  const { latencies, statuses, errors, elapsed } = await phase(opts.seconds, true);
  await pool.close();
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
    warmupRequests,
  };
}

/**
 * `runLoad` in a fresh process of its own (load-child.ts), which is how `pnpm bench` measures: the
 * load generator's heap holds only its requests, not the fleet and whatever seeding left, so its
 * own collections stay short. Also answers the load generator's CPU per request sent.
 */
export function runLoadApart(origin: string, workload: Workload, opts: LoadOptions): Promise<LoadResult & { loaderCpuUs: number }> {
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
    child.send({ origin, workload, opts } satisfies LoadJob);
  });
}
