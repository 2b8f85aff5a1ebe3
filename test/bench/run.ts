/**
 * `pnpm bench`: flexgate's check endpoint against a bare Hono baseline, measured side by side in
 * one run on one machine, alternating baseline and gateway runs, and written to BENCHMARKS.md.
 *
 *   pnpm bench [--seconds 5] [--connections 64] [--reps 3] [--engine sqlite|postgres] [--cluster N]
 *              [--cpu-prof] [--no-write]
 */
import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from '../harness/db';
import { api, type Fleet, prewarm, seedFleet } from './fleet';
import { type LoadResult, type Request, runLoadApart } from './load';
import { launchRequest, type Workload } from './workloads';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] && !argv[i + 1]?.startsWith('--') ? (argv[i + 1] as string) : dflt;
};
const has = (name: string) => argv.includes(`--${name}`);
const seconds = Number(opt('seconds', '5'));
const connections = Number(opt('connections', '64'));
const reps = Number(opt('reps', '3'));
// Each cold rep needs a simulated day of its own, warm and mixed one each, 25 h apart: all within
// the fleet's ID tokens' 7 days (the gateway's longest FLEXGATE_ID_TOKEN_TTL).
if (!(reps >= 1 && (reps + 2) * 25 <= 7 * 24)) throw new Error('--reps: 1 to 4');
const engine = opt('engine', 'sqlite') as 'sqlite' | 'postgres';
const cluster = Number(opt('cluster', '0'));
const cpuProf = has('cpu-prof');

interface Proc {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function start(args: string[], env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no "listening on" from ${args.join(' ')}:\n${out}`)), 60_000);
    const on = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(t);
        res(m[1]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', () => rej(new Error(`exited early:\n${out}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((res) => {
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user + system) the process and its workers have used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const pids = [pid, ...execSync(`pgrep -P ${pid} || true`).toString().split('\n').filter(Boolean).map(Number)];
  let ticks = 0;
  for (const p of pids) {
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100;
}

/** The gateway's RSS (with its workers' when clustered), and the part of it that is mapped file pages. */
function rssMb(pid: number): { total: number; file: number } {
  const pids = [pid, ...execSync(`pgrep -P ${pid} || true`).toString().split('\n').filter(Boolean).map(Number)];
  let kb = 0;
  let fileKb = 0;
  for (const p of pids) {
    const status = readFileSync(`/proc/${p}/status`, 'utf8');
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    fileKb += Number(/RssFile:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return { total: Math.round(kb / 1024), file: Math.round(fileKb / 1024) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main() {
  const db = await freshDatabase(engine);
  const operatorKey = `bench-${randomBytes(8).toString('hex')}`;
  const profDir = mkdtempSync(join(tmpdir(), 'flexgate-prof-'));
  const baseline = await start(['test/bench/baseline.ts'], {});
  const gwArgs = [
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    'gateway/src/main.ts',
    ...(cluster > 1 ? ['--cluster', String(cluster)] : []),
  ];
  const gateway = await start(gwArgs, {
    PORT: '0',
    DATABASE_URL: db.url,
    FLEXGATE_OPERATOR_KEY: operatorKey,
    FLEXGATE_TEST_CLOCK: '1',
    FLEXGATE_RATE_LIMIT: 'off',
    FLEXGATE_SCRYPT_N: '1024',
    FLEXGATE_LOG: 'warn',
    FLEXGATE_ID_TOKEN_TTL: String(7 * 86400),
  });
  console.error(`baseline ${baseline.url}, gateway ${gateway.url} (${engine}${cluster > 1 ? `, ${cluster} workers` : ''}); seeding...`);
  const t0 = performance.now();
  const fleet = await seedFleet(gateway.url, operatorKey, has('small') ? { warm: 200, cold: 2000, refused: 50 } : undefined);
  console.error(
    `seeded ${fleet.warm.length + fleet.cold.length + fleet.refused.length} users, 10 products in ${Math.round(performance.now() - t0)} ms`,
  );

  let clock = Date.now();
  const nextDay = async () => {
    clock += 25 * 3600_000;
    await api(gateway.url, operatorKey, 'POST', '/v1/test/clock', { now: new Date(clock).toISOString() });
  };
  const products = fleet.products.map((p) => p.key);
  const admin: Request[] = [`/v1/teams/${fleet.team}/balance`, `/v1/teams/${fleet.team}/usage?by=product`].map((path) => ({
    method: 'GET',
    path,
    headers: { authorization: `Bearer ${fleet.adminKey}` },
    expect: [200],
  }));
  // The baseline answers any body; it gets the same shape of request as a launch.
  const baseWorkload: Workload = { kind: 'fixed', request: launchRequest('x', 'product-1') };

  // Cold launches take each (cold user, product) pair once per simulated day: every one opens a
  // session and charges. The day moves on before each cold run (a run starts from the first pair);
  // each mixed run takes its own share of the cold users, so the mixed runs share one day. Days are
  // few because the fleet's ID tokens live 7 days at most (FLEXGATE_ID_TOKEN_TTL).
  const share = (r: number) => fleet.cold.filter((_, i) => i % reps === r);
  const workloads: { name: string; prepare: (rep: number) => Promise<void>; workload: (rep: number) => Workload }[] = [
    {
      name: 'healthz',
      prepare: async () => {},
      workload: () => ({ kind: 'fixed', request: { method: 'GET', path: '/healthz', headers: {}, expect: [200] } }),
    },
    {
      name: 'warm',
      // Sessions opened once stay open (24 h) for the warm runs that follow.
      prepare: async (r) => {
        if (r === 0) {
          await nextDay();
          await prewarm(gateway.url, fleet);
        }
      },
      workload: () => ({ kind: 'warm', launches: { tokens: fleet.warm, products } }),
    },
    { name: 'cold', prepare: nextDay, workload: () => ({ kind: 'cold', launches: { tokens: fleet.cold, products } }) },
    {
      name: 'refused',
      prepare: async () => {},
      workload: () => ({ kind: 'cycle', requests: fleet.refused.map((t) => ({ ...launchRequest(t, 'product-9'), expect: [403] })) }),
    },
    {
      name: 'mixed',
      prepare: async (r) => {
        if (r === 0) {
          await nextDay();
          await prewarm(gateway.url, fleet);
        }
      },
      workload: (r) => ({ kind: 'mixed', warm: { tokens: fleet.warm, products }, cold: { tokens: share(r), products }, admin }),
    },
  ];
  const only = opt('only', '');
  type Measured = LoadResult & { loaderCpuUs: number };
  /**
   * Each rep's gateway req/s against the baseline run just before it, the closest in time: the
   * machine's speed changes by up to 2x between minutes, so the ratio of the two medians could
   * pair runs minutes apart. The table shows the median of these.
   */
  const ratios = (r: { gw: Measured[]; base: Measured[] }) => r.gw.map((g, i) => g.rps / (r.base[i] ?? (r.base[0] as Measured)).rps);
  const rows: { name: string; gw: Measured[]; base: Measured[]; cpu: number[] }[] = [];
  for (const w of workloads.filter((w) => !only || only.split(',').includes(w.name))) {
    const row = { name: w.name, gw: [] as Measured[], base: [] as Measured[], cpu: [] as number[] };
    for (let r = 0; r < reps; r++) {
      if (!has('no-baseline') || r === 0)
        row.base.push(
          await runLoadApart(baseline.url, baseWorkload, { connections, seconds: has('no-baseline') ? 1 : seconds, warmupSeconds: 1 }),
        );
      await w.prepare(r);
      const cpu0 = cpuSeconds(gateway.child.pid as number);
      // Every workload gets its second of warm-up (JIT, caches); cold and mixed spend fresh pairs on it.
      row.gw.push(await runLoadApart(gateway.url, w.workload(r), { connections, seconds, warmupSeconds: 1 }));
      const g = row.gw.at(-1) as Measured;
      const base = row.base.at(-1) as Measured;
      const cpuUs = ((cpuSeconds(gateway.child.pid as number) - cpu0) / g.requests) * 1e6;
      row.cpu.push(cpuUs);
      console.error(
        `${w.name} #${r + 1}: ${((g.rps / base.rps) * 100).toFixed(0)}%, gateway ${Math.round(g.rps)} req/s p99 ${g.p99.toFixed(1)} ms errors ${g.errors}, ~${Math.round(cpuUs)} us gateway CPU per request, load generator ${Math.round(g.loaderCpuUs)} | baseline ${Math.round(base.rps)} req/s p99 ${base.p99.toFixed(1)} ms, load generator ${Math.round(base.loaderCpuUs)}`,
      );
    }
    rows.push(row);
  }

  // Cold correctness, checked after the run: exactly one charge per session, one session per pair and day.
  const check = await checkCharges(gateway.url, fleet, operatorKey);
  const rss = rssMb(gateway.child.pid as number);
  // The V8 heap as the gateway reports it (GET /metrics; with --cluster, one worker's).
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const gauge = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN) / 2 ** 20);
  const heap = { total: gauge('nodejs_heap_size_total_bytes'), used: gauge('nodejs_heap_size_used_bytes') };
  await gateway.stop();
  await baseline.stop();
  await db.drop();

  const commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();
  const dirty = execSync('git status --porcelain -- gateway shared', { cwd: root }).toString().trim() ? '+uncommitted' : '';
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const title = `${engine}${cluster > 1 ? `, ${cluster} cluster workers` : ', 1 process'}`;
  const table = [
    `### ${title}: ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}${dirty}`,
    '',
    `Machine: ${machine}. Load generator (undici, ${connections} connections, closed loop, ${seconds} s runs, ${reps} alternating reps, medians; the ratio is the median of each rep's gateway run against the baseline run just before it; a fresh process per run) on the same 2 cores as the server; its own CPU per request is the last column.`,
    '',
    '| workload | gateway req/s | baseline req/s | ratio (each rep) | p50 ms | p99 ms | p99.9 ms | errors | gateway CPU µs/req | baseline p99 ms | load generator CPU µs/req (gateway; baseline) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const g = median(r.gw.map((x) => x.rps));
      const b = median(r.base.map((x) => x.rps));
      const each = ratios(r);
      return `| ${r.name} | ${Math.round(g)} | ${Math.round(b)} | ${(median(each) * 100).toFixed(0)}% (${each.map((x) => (x * 100).toFixed(0)).join(', ')}) | ${median(r.gw.map((x) => x.p50)).toFixed(2)} | ${median(r.gw.map((x) => x.p99)).toFixed(2)} | ${median(r.gw.map((x) => x.p999)).toFixed(2)} | ${r.gw.reduce((s, x) => s + x.errors, 0)} | ${Math.round(median(r.cpu))} | ${median(r.base.map((x) => x.p99)).toFixed(2)} | ${Math.round(median(r.gw.map((x) => x.loaderCpuUs)))}; ${Math.round(median(r.base.map((x) => x.loaderCpuUs)))} |`;
    }),
    '',
    `After the runs: gateway RSS ${rss.total} MB (${rss.file} MB of it mapped file pages: code, and on SQLite the database through the read connection's mmap; V8 heap ${heap.total} MB committed, ${heap.used} MB in use${cluster > 1 ? ', in one worker' : ''}); ${check.sessions} sessions charged, ${check.duplicates} (user, product, day) charged twice, ${check.mischarged} sessions charged other than once at their rate.`,
    '',
  ].join('\n');
  console.log(`\n${table}`);
  if (cpuProf) console.log(summariseProfile(profDir));
  rmSync(profDir, { recursive: true, force: true });
  if (!has('no-write')) appendResults(table);
  if (check.duplicates > 0 || check.mischarged > 0) process.exitCode = 1;
}

async function checkCharges(origin: string, fleet: Fleet, operatorKey: string) {
  const rate = new Map(fleet.products.map((p) => [p.key, p.dailyRate]));
  const perSession = new Map<string, { user: string; product: string; tokens: number }>();
  for (let after = 0; ; ) {
    const page = (await api(origin, operatorKey, 'GET', `/v1/teams/${fleet.team}/ledger?after=${after}&limit=10000`)) as any[];
    for (const e of page) {
      if (!e.sessionId) continue;
      const s = perSession.get(e.sessionId) ?? { user: e.autodeskId, product: e.product, tokens: 0 };
      s.tokens -= e.tokens;
      perSession.set(e.sessionId, s);
    }
    if (page.length < 10000) break;
    after = page.at(-1).id;
  }
  let mischarged = 0;
  for (const s of perSession.values()) if (s.tokens !== rate.get(s.product)) mischarged++;
  // Sessions are per (user, product) and 24 h; the bench moves the clock 25 h between epochs, so a
  // second session of a pair can only be a double charge if it came from the same epoch: compare counts.
  const sessionsPerPair = new Map<string, number>();
  for (const s of perSession.values())
    sessionsPerPair.set(`${s.user}|${s.product}`, (sessionsPerPair.get(`${s.user}|${s.product}`) ?? 0) + 1);
  const epochs = Math.max(...sessionsPerPair.values());
  let duplicates = 0;
  for (const n of sessionsPerPair.values()) if (n > epochs) duplicates++;
  return { sessions: perSession.size, duplicates, mischarged };
}

function summariseProfile(dir: string): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return '(no profile written)';
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: { id: number; hitCount: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  };
  const total = prof.nodes.reduce((s, n) => s + n.hitCount, 0);
  const self = new Map<string, number>();
  for (const n of prof.nodes) {
    const url = n.callFrame.url
      .replace(/^.*node_modules\/\.pnpm\/([^/]+)\/node_modules\//, '$1:')
      .replace(/^file:\/\/.*\/(gateway|shared)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + n.hitCount);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  return ['| self % | frame |', '|---|---|', ...top.map(([k, v]) => `| ${((v / total) * 100).toFixed(1)} | \`${k}\` |`)].join('\n');
}

function appendResults(table: string) {
  const file = join(root, 'BENCHMARKS.md');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n\nProduced by `pnpm bench` (test/bench/run.ts); newest first under "Runs".\n\n## Runs\n\n';
  }
  const marker = '## Runs\n\n';
  const at = text.indexOf(marker);
  writeFileSync(
    file,
    at >= 0 ? `${text.slice(0, at + marker.length)}${table}\n${text.slice(at + marker.length)}` : `${text}\n${marker}${table}\n`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
