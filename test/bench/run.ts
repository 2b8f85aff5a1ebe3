/**
 * `pnpm bench`: flexgate's check endpoint against a bare Hono baseline, measured side by side in
 * one run on one machine, alternating baseline and gateway runs, and written to BENCHMARKS.md. On
 * PostgreSQL, pgbench's TPC-B-like script on the same server is a second baseline for cold launches.
 *
 *   pnpm bench --help   (the options; an unknown one stops it before anything starts)
 */
import { execFile, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../harness/db';
import { api, type Fleet, knowTokens, prewarm, seedFleet } from './fleet';
import { type LoadResult, type Request, runLoadApart } from './load';
import { type Proc, postgresCpu, postgresSpent, procCpu, start } from './proc';
import { signinFlood } from './signin-flood';
import { launchRequest, type Workload } from './workloads';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const USAGE = `pnpm bench [--seconds 5] [--connections 64] [--reps 3] [--engine sqlite|postgres] [--cluster N]
           [--instances N (PostgreSQL)] [--teams N] [--only healthz,warm,cold,refused,mixed | signin-flood]
           [--small] [--cpu-prof] [--no-baseline] [--no-write] [--fresh-connections] [--log warn|info]`;
const WITH_VALUE = new Set(['seconds', 'connections', 'reps', 'engine', 'cluster', 'instances', 'teams', 'only', 'log']);
const SWITCHES = new Set(['small', 'cpu-prof', 'no-baseline', 'no-write', 'fresh-connections']);
// The names of the workloads below (their table's type holds it to these).
const WORKLOADS = ['healthz', 'warm', 'cold', 'refused', 'mixed'] as const;
// A mistyped option must not start minutes of seeding and a run that ignores it.
for (let i = 0; i < argv.length; i++) {
  const name = argv[i]?.startsWith('--') ? argv[i]?.slice(2) : undefined;
  if (name === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  if (name !== undefined && SWITCHES.has(name)) continue;
  if (name !== undefined && WITH_VALUE.has(name) && argv[i + 1] !== undefined && !argv[i + 1]?.startsWith('--')) {
    i++;
    continue;
  }
  console.error(
    `pnpm bench: ${name !== undefined && WITH_VALUE.has(name) ? `--${name} needs a value` : `unknown argument ${argv[i]}`}\n${USAGE}`,
  );
  process.exit(2);
}
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] && !argv[i + 1]?.startsWith('--') ? (argv[i + 1] as string) : dflt;
};
const has = (name: string) => argv.includes(`--${name}`);
const seconds = Number(opt('seconds', '5'));
const connections = Number(opt('connections', '64'));
const fresh = has('fresh-connections');
// The gateway's FLEXGATE_LOG: `info`, the default, writes a line a request (to a pipe this process drains).
const logLevel = opt('log', 'warn');
if (!['warn', 'info'].includes(logLevel)) throw new Error('--log: warn or info');
const reps = Number(opt('reps', '3'));
// Each cold rep needs a simulated day of its own, warm and mixed one each, 25 h apart: all within
// the fleet's ID tokens' 7 days (the gateway's longest FLEXGATE_ID_TOKEN_TTL).
if (!(reps >= 1 && (reps + 2) * 25 <= 7 * 24)) throw new Error('--reps: 1 to 4');
const engine = opt('engine', 'sqlite') as 'sqlite' | 'postgres';
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('--engine: sqlite or postgres');
const cluster = Number(opt('cluster', '0'));
const instances = Number(opt('instances', '1'));
// --teams N: the cold users spread over N teams (each with lots of its own), as a deployment of many
// customers has them; the default, one team, puts every charge on one team's lock (the hardest case).
const teamCount = Number(opt('teams', '1'));
if (!(Number.isInteger(teamCount) && teamCount >= 1 && teamCount <= 64)) throw new Error('--teams: 1 to 64');
if (!(Number.isInteger(instances) && instances >= 1 && instances <= 8)) throw new Error('--instances: 1 to 8');
// Processes sharing one SQLite file take turns at its write lock: the issue's scale-out is PostgreSQL's.
if (instances > 1 && engine !== 'postgres') throw new Error('--instances: PostgreSQL only (--engine postgres)');
// The bench moves every process's test clock for each simulated day; a cluster's workers each keep
// one of their own, and POST /v1/test/clock reaches only one of them.
if (instances > 1 && cluster > 1) throw new Error('--instances and --cluster: one or the other');
// pgbench -T counts whole seconds, and its runs last as long as the gateway's.
if (engine === 'postgres' && !(Number.isInteger(seconds) && seconds >= 1))
  throw new Error('--seconds: whole seconds on PostgreSQL (pgbench -T)');
const cpuProf = has('cpu-prof');
// With --instances N, each cold rep (a simulated day of its own, counted here) also runs on the
// first instance alone, next to all N: the machine drifts too much between two separate runs.
const onlyArg = opt('only', '');
const unknownWorkload =
  onlyArg && onlyArg !== 'signin-flood' ? onlyArg.split(',').find((w) => !(WORKLOADS as readonly string[]).includes(w)) : undefined;
if (unknownWorkload !== undefined)
  throw new Error(`--only: ${unknownWorkload} is not one of ${WORKLOADS.join(', ')} (or signin-flood alone)`);
const withCold = !onlyArg || onlyArg.split(',').includes('cold');
const daysNeeded =
  reps * (instances > 1 ? 2 : 1) + (!onlyArg || onlyArg.includes('warm') ? 1 : 0) + (!onlyArg || onlyArg.includes('mixed') ? 1 : 0);
if (withCold && daysNeeded * 25 > 7 * 24)
  throw new Error(`--reps: ${daysNeeded} simulated days of 25 h do not fit in the fleet's 7-day ID tokens`);
const execFileAsync = promisify(execFile);

/**
 * What main started, undone in reverse order once, also when a run fails: gateways left running
 * would hold their databases (and the cores) after the bench is gone.
 */
const teardown: (() => Promise<void>)[] = [];
async function tearDown() {
  for (let undo = teardown.pop(); undo; undo = teardown.pop()) await undo().catch((e: unknown) => console.error('teardown:', e));
}

/** pgbench from PATH, else from the newest /usr/lib/postgresql/<version>/bin (Debian keeps it there). */
function pgbenchBinary(): string {
  const onPath = execSync('command -v pgbench || true', { shell: '/bin/sh' }).toString().trim();
  if (onPath) return onPath;
  const dir = '/usr/lib/postgresql';
  const versions = existsSync(dir) ? readdirSync(dir).filter((v) => existsSync(join(dir, v, 'bin/pgbench'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return join(dir, newest, 'bin/pgbench');
  throw new Error('--engine postgres needs pgbench (PostgreSQL client tools): not on PATH nor in /usr/lib/postgresql/*/bin');
}

/**
 * pgbench's built-in TPC-B-like script, 16 clients on 2 threads, against a scratch database of
 * the gateway's PostgreSQL server: what that server does per second in small write transactions,
 * measured on the same cores in the same minute. A second of it first, unmeasured, as every
 * gateway run gets (fresh backends, their caches).
 */
async function runPgbench(bin: string, url: string, secs: number): Promise<number> {
  await execFileAsync(bin, ['-c', '16', '-j', '2', '-n', '-T', '1', url]);
  const { stdout } = await execFileAsync(bin, ['-c', '16', '-j', '2', '-T', String(secs), url]);
  const tps = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(stdout)?.[1];
  if (tps === undefined) throw new Error(`no "tps = ... (without initial connection time)" from pgbench:\n${stdout}`);
  return Number(tps);
}

/** The gateway processes with their cluster workers, if any. */
const withWorkers = (pids: number[]) =>
  pids.flatMap((pid) => [pid, ...execSync(`pgrep -P ${pid} || true`).toString().split('\n').filter(Boolean).map(Number)]);

/** CPU seconds (user + system) the gateway processes and their workers have used so far, from /proc. */
function cpuSeconds(gatewayPids: number[]): number {
  return withWorkers(gatewayPids).reduce((sum, p) => sum + procCpu(`/proc/${p}/stat`), 0);
}

/** Context switches of the gateways' threads so far (each gives up or loses its core: both cost it on a VM). */
function switches(gatewayPids: number[]): number {
  let n = 0;
  for (const p of withWorkers(gatewayPids)) {
    for (const t of readdirSync(`/proc/${p}/task`)) {
      const status = readFileSync(`/proc/${p}/task/${t}/status`, 'utf8');
      for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
    }
  }
  return n;
}

/** Every gateway's samples of these series of GET /metrics, summed over the gateways and the labels. */
async function scrape(origins: string[], series: string[]): Promise<number[]> {
  const sums = series.map(() => 0);
  for (const origin of origins) {
    const text = await (await fetch(`${origin}/metrics`)).text();
    series.forEach((name, i) => {
      for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sums[i] = (sums[i] ?? 0) + Number(m[1]);
    });
  }
  return sums;
}

/** The gateways' charge groups so far: charges, groups, seconds, restarts. */
async function chargeGroups(origins: string[]): Promise<{ charges: number; groups: number; seconds: number; restarts: number }> {
  const [charges = 0, groups = 0, seconds = 0, restarts = 0] = await scrape(origins, [
    'flexgate_charge_group_launches_sum',
    'flexgate_charge_group_launches_count',
    'flexgate_charge_group_duration_seconds_sum',
    'flexgate_charge_group_restarts_total',
  ]);
  return { charges, groups, seconds, restarts };
}

/** What the charge groups of one run were: their size and time, from two readings of `chargeGroups`. */
function groupsSince(before: Awaited<ReturnType<typeof chargeGroups>>, after: Awaited<ReturnType<typeof chargeGroups>>): string {
  const groups = after.groups - before.groups;
  if (groups === 0) return '';
  const size = (after.charges - before.charges) / groups;
  const ms = ((after.seconds - before.seconds) / groups) * 1000;
  return `, ${groups} charge groups of ${size.toFixed(1)} launches, ${ms.toFixed(1)} ms each, ${after.restarts - before.restarts} restarted`;
}

/** The gateways' RSS (summed, with their workers' when clustered), and the part of it that is mapped file pages. */
function rssMb(gatewayPids: number[]): { total: number; file: number } {
  let kb = 0;
  let fileKb = 0;
  for (const p of withWorkers(gatewayPids)) {
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
  // Its own gateway, configured as in production (scrypt cost, rate limits): see signin-flood.ts.
  if (opt('only', '') === 'signin-flood') return signinFlood({ seconds, write: !has('no-write'), append: appendResults });
  const profDir = mkdtempSync(join(tmpdir(), 'flexgate-prof-'));
  teardown.push(async () => rmSync(profDir, { recursive: true, force: true }));
  const db = await freshDatabase(engine);
  teardown.push(() => db.drop());
  const operatorKey = `bench-${randomBytes(8).toString('hex')}`;
  // One KEK for every instance: each opens the signing keys the first one sealed.
  const kek = randomBytes(32).toString('base64url');
  const baseline = await start(['test/bench/baseline.ts'], {});
  teardown.push(() => baseline.stop());
  const gwArgs = [
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    'gateway/src/main.ts',
    ...(cluster > 1 ? ['--cluster', String(cluster)] : []),
  ];
  // --instances N: N processes started the same way on the one database, each on a port of its
  // own, all at once (their migrations take turns under the migrator's lock).
  const started = await Promise.allSettled(
    Array.from({ length: instances }, () =>
      start(gwArgs, {
        PORT: '0',
        DATABASE_URL: db.url,
        FLEXGATE_OPERATOR_KEY: operatorKey,
        FLEXGATE_TEST_CLOCK: '1',
        FLEXGATE_RATE_LIMIT: 'off',
        FLEXGATE_SCRYPT_N: '1024',
        FLEXGATE_LOG: logLevel,
        FLEXGATE_ID_TOKEN_TTL: String(7 * 86400),
        FLEXGATE_KEK: kek,
      }),
    ),
  );
  const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  for (const g of gateways) teardown.push(() => g.stop());
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const gateway = gateways[0] as Proc;
  const urls = gateways.map((g) => g.url);
  const pids = gateways.map((g) => g.child.pid as number);
  console.error(
    `baseline ${baseline.url}, gateway ${urls.join(' ')} (${engine}${cluster > 1 ? `, ${cluster} workers` : ''}${instances > 1 ? `, ${instances} instances` : ''}); seeding...`,
  );

  // pgbench's scratch database on the gateway's server, initialised once (scale 10: 1M accounts).
  let pgbench: { bin: string; db: TestDatabase } | null = null;
  if (engine === 'postgres') {
    const bin = pgbenchBinary();
    const scratch = await freshDatabase('postgres');
    teardown.push(() => scratch.drop());
    await execFileAsync(bin, ['-i', '-s', '10', '-q', scratch.url]);
    pgbench = { bin, db: scratch };
  }

  const t0 = performance.now();
  const fleet = await seedFleet(gateway.url, operatorKey, has('small') ? { warm: 200, cold: 4000, refused: 50 } : undefined, teamCount);
  console.error(
    `seeded ${fleet.warm.length + fleet.cold.length + fleet.refused.length} users, 10 products in ${Math.round(performance.now() - t0)} ms`,
  );
  if (engine === 'postgres') {
    // Statistics for the tables seeding just filled, as `pgbench -i` takes for its own and
    // autovacuum would within a minute of a deployment's: without them the planner read all of
    // `members` for each batch's memberships (BENCHMARKS.md, session 11).
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('analyze');
    await client.end();
  }
  // Every instance verifies the cold users' ID tokens before the runs, so that all start alike
  // (a token is verified once per instance, then known by its signature: keyring.ts).
  for (const url of urls) await knowTokens(url, fleet.cold);

  let clock = Date.now();
  /** The instants the clock was moved to: each starts a simulated day (checkCharges). */
  const days: number[] = [];
  // Every instance keeps its own test clock: each is moved to the same instant.
  const nextDay = async () => {
    clock += 25 * 3600_000;
    days.push(clock);
    for (const url of urls) await api(url, operatorKey, 'POST', '/v1/test/clock', { now: new Date(clock).toISOString() });
  };
  // The first instance opens the warm sessions; the others then relaunch them (no charge), so that
  // each has them in its own warm-launch cache before the warm runs.
  const prewarmAll = async () => {
    for (const url of urls) await prewarm(url, fleet);
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
  const workloads: { name: (typeof WORKLOADS)[number]; prepare: (rep: number) => Promise<void>; workload: (rep: number) => Workload }[] = [
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
          await prewarmAll();
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
          await prewarmAll();
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
  /** Each rep's gateway req/s against the pgbench run just after it (cold only: see below). */
  const pgRatios = (r: { gw: Measured[]; pg: number[] }) => r.pg.map((tps, i) => (r.gw[i] as Measured).rps / tps);
  // pgbench follows the cold runs only: the issue's target is cold launches (a write transaction
  // each, as each TPC-B one is) against it; after every row it would cost a rep (seconds + 1) s of
  // the two cores for ratios that mean nothing (warm launches do not write).
  const pgbenchAfter = new Set(['cold']);
  const rows: { name: string; gw: Measured[]; base: Measured[]; pg: number[]; cpu: number[]; one: Measured[] }[] = [];
  for (const w of workloads.filter((w) => !only || only.split(',').includes(w.name))) {
    const row = {
      name: w.name,
      gw: [] as Measured[],
      base: [] as Measured[],
      pg: [] as number[],
      cpu: [] as number[],
      one: [] as Measured[],
    };
    // Each rep: Hono baseline, gateway, pgbench. The gateway run sits between its two yardsticks,
    // so both of its ratios pair it with a run seconds away, never minutes (the machine drifts).
    for (let r = 0; r < reps; r++) {
      if (!has('no-baseline') || r === 0)
        row.base.push(
          await runLoadApart(baseline.url, baseWorkload, {
            connections,
            seconds: has('no-baseline') ? 1 : seconds,
            warmupSeconds: 1,
            fresh,
          }),
        );
      let oneCpu = '';
      const alone = async () => {
        await w.prepare(r);
        const first = pids.slice(0, 1);
        // /metrics read outside the CPU readings: scraping is not part of serving.
        const g0 = await chargeGroups(urls.slice(0, 1));
        const [c0, d0, s0] = [cpuSeconds(first), postgresCpu(), switches(first)];
        row.one.push(await runLoadApart(urls.slice(0, 1), w.workload(r), { connections, seconds, warmupSeconds: 1, fresh }));
        const n = (row.one.at(-1) as Measured).requests;
        const [cpu, db, switched] = [(cpuSeconds(first) - c0) / n, postgresSpent(d0) / n, (switches(first) - s0) / n];
        oneCpu = ` (gateway ${Math.round(cpu * 1e6)} us, PostgreSQL ${Math.round(db * 1e6)} us of CPU per launch, ${switched.toFixed(1)} context switches per launch${groupsSince(g0, await chargeGroups(urls.slice(0, 1)))})`;
      };
      // The first instance alone before all N in the 1st, 3rd... rep, after them in the others: every
      // run leaves the tables larger, and a fixed order would always hand the larger ones to the same side.
      // healthz and refused too (no simulated day needed): what N processes on these cores cost
      // with no ledger head to share, the ceiling for cold's ratio.
      const measuresAlone = instances > 1 && ['cold', 'healthz', 'refused'].includes(w.name);
      if (measuresAlone && r % 2 === 0) await alone();
      await w.prepare(r);
      const groups0 = await chargeGroups(urls);
      const [cpu0, db0, switches0] = [cpuSeconds(pids), postgresCpu(), switches(pids)];
      // Every workload gets its second of warm-up (JIT, caches); cold and mixed spend fresh pairs on it.
      row.gw.push(await runLoadApart(urls, w.workload(r), { connections, seconds, warmupSeconds: 1, fresh }));
      const g = row.gw.at(-1) as Measured;
      const base = row.base.at(-1) as Measured;
      const cpuUs = ((cpuSeconds(pids) - cpu0) / g.requests) * 1e6;
      const dbUs = (postgresSpent(db0) / g.requests) * 1e6;
      const switched = switches(pids) - switches0;
      const groups = groupsSince(groups0, await chargeGroups(urls));
      row.cpu.push(cpuUs);
      if (pgbench && pgbenchAfter.has(w.name)) row.pg.push(await runPgbench(pgbench.bin, pgbench.db.url, seconds));
      if (measuresAlone && r % 2 === 1) await alone();
      const tps = row.pg[r];
      const one = row.one[r];
      console.error(
        `${w.name} #${r + 1}: ${((g.rps / base.rps) * 100).toFixed(0)}%, gateway ${Math.round(g.rps)} req/s p99 ${g.p99.toFixed(1)} ms errors ${g.errors}${instances > 1 ? ` (requests per instance ${g.byOrigin.join(', ')})` : ''}, ~${Math.round(cpuUs)} us gateway CPU per request${engine === 'postgres' ? `, PostgreSQL ${Math.round(dbUs)}` : ''}, load generator ${Math.round(g.loaderCpuUs)}, ${(switched / g.requests).toFixed(1)} gateway context switches per request${groups} | baseline ${Math.round(base.rps)} req/s p99 ${base.p99.toFixed(1)} ms, load generator ${Math.round(base.loaderCpuUs)}${tps === undefined ? '' : ` | pgbench ${Math.round(tps)} TPS, gateway ${((g.rps / tps) * 100).toFixed(0)}% of it`}${one ? ` | 1 instance alone ${Math.round(one.rps)} req/s p99 ${one.p99.toFixed(1)} ms errors ${one.errors}${oneCpu}: ${instances} instances ${(g.rps / one.rps).toFixed(2)}x` : ''}`,
      );
    }
    rows.push(row);
  }

  // Cold correctness, checked after the run over the one database whichever instance charged:
  // exactly one charge per session, one session per pair and day.
  const check = await checkCharges(gateway.url, fleet, operatorKey, days);
  const rss = rssMb(pids);
  // The V8 heap as the gateways report it (GET /metrics), summed over the instances; with
  // --cluster, one worker's.
  const [heapTotal = 0, heapUsed = 0] = await scrape(urls, ['nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes']);
  const heap = { total: Math.round(heapTotal / 2 ** 20), used: Math.round(heapUsed / 2 ** 20) };
  // Stopped before the profile is read: a gateway writes its --cpu-prof file as it exits (with
  // --instances, one file each; the summary reads one of them).
  for (const g of gateways) await g.stop();
  const profile = cpuProf ? summariseProfile(profDir) : '';
  if (cpuProf && process.env.FG_KEEP_PROF) execSync(`cp "$(ls -S ${profDir}/*.cpuprofile | head -1)" /tmp/last.cpuprofile`);
  await tearDown();

  const commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();
  const dirty = execSync('git status --porcelain -- gateway shared', { cwd: root }).toString().trim() ? '+uncommitted' : '';
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const title = `${engine}${cluster > 1 ? `, ${cluster} cluster workers` : instances > 1 ? `, ${instances} instances` : ', 1 process'}${teamCount > 1 ? `, cold users over ${teamCount} teams` : ''}${logLevel === 'info' ? ', log info' : ''}`;
  const pgCols = pgbench !== null;
  const oneCols = instances > 1;
  const table = [
    `### ${title}: ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}${dirty}`,
    '',
    `Machine: ${machine}. Load generator (undici, ${connections} ${fresh ? 'workers, each request on a new connection closed after its answer' : 'connections'}, closed loop, ${seconds} s runs, ${reps} alternating reps, medians; the ratio is the median of each rep's gateway run against the baseline run just before it; a fresh process per run) on the same 2 cores as the server; its own CPU per request is the last column.${
      instances > 1
        ? ` ${instances} gateway processes on the one database, each connection of the load generator kept to one of them (round-robin); gateway CPU, RSS and heap are their sums. Each cold, healthz and refused rep also runs on the first instance alone (a cold one on a simulated day of its own), before the ${instances} together in the 1st and 3rd reps and after them (and pgbench) in the others: the "÷ 1 instance" column is the median of each rep's ratio.`
        : ''
    }${
      pgCols
        ? " pgbench: its built-in TPC-B-like script on a scratch database of the same PostgreSQL server (scale 10, 16 clients, -j 2), after each cold run for as long, after 1 s of its own; the ratio is the median of each rep's cold launches/s over that rep's pgbench TPS."
        : ''
    }`,
    '',
    `| workload | gateway req/s | baseline req/s | ratio (each rep) |${pgCols ? ' pgbench TPS | ÷ pgbench TPS (each rep) |' : ''}${oneCols ? ' 1 instance alone req/s | ÷ 1 instance (each rep) |' : ''} p50 ms | p99 ms | p99.9 ms | errors | gateway CPU µs/req | baseline p99 ms | load generator CPU µs/req (gateway; baseline) |`,
    `|---|---|---|---|${pgCols ? '---|---|' : ''}${oneCols ? '---|---|' : ''}---|---|---|---|---|---|---|`,
    ...rows.map((r) => {
      const g = median(r.gw.map((x) => x.rps));
      const b = median(r.base.map((x) => x.rps));
      const each = ratios(r);
      const eachPg = pgRatios(r);
      const pgCells = !pgCols
        ? ''
        : eachPg.length === 0
          ? ' - | - |'
          : ` ${Math.round(median(r.pg))} | ${(median(eachPg) * 100).toFixed(0)}% (${eachPg.map((x) => (x * 100).toFixed(0)).join(', ')}) |`;
      const eachOne = r.one.map((o, i) => (r.gw[i] as Measured).rps / o.rps);
      const oneCells = !oneCols
        ? ''
        : eachOne.length === 0
          ? ' - | - |'
          : ` ${Math.round(median(r.one.map((o) => o.rps)))} | ${median(eachOne).toFixed(2)}x (${eachOne.map((x) => x.toFixed(2)).join(', ')}) |`;
      return `| ${r.name} | ${Math.round(g)} | ${Math.round(b)} | ${(median(each) * 100).toFixed(0)}% (${each.map((x) => (x * 100).toFixed(0)).join(', ')}) |${pgCells}${oneCells} ${median(r.gw.map((x) => x.p50)).toFixed(2)} | ${median(r.gw.map((x) => x.p99)).toFixed(2)} | ${median(r.gw.map((x) => x.p999)).toFixed(2)} | ${r.gw.reduce((s, x) => s + x.errors, 0)} | ${Math.round(median(r.cpu))} | ${median(r.base.map((x) => x.p99)).toFixed(2)} | ${Math.round(median(r.gw.map((x) => x.loaderCpuUs)))}; ${Math.round(median(r.base.map((x) => x.loaderCpuUs)))} |`;
    }),
    '',
    `After the runs: ${instances > 1 ? `the ${instances} gateways' RSS together` : 'gateway RSS'} ${rss.total} MB (${rss.file} MB of it mapped file pages: code and shared libraries; V8 heap ${heap.total} MB committed, ${heap.used} MB in use${cluster > 1 ? ', in one worker' : instances > 1 ? ', summed' : ''}); ${check.sessions} sessions charged, ${check.duplicates} (user, product, day) charged twice, ${check.mischarged} sessions charged other than once at their rate.`,
    '',
  ].join('\n');
  console.log(`\n${table}`);
  if (cpuProf) console.log(profile);
  if (!has('no-write')) appendResults(table);
  if (check.duplicates > 0 || check.mischarged > 0) process.exitCode = 1;
}

/**
 * Every session's charges from the team's ledger (one shared database, whichever instance wrote
 * them): a session must be charged once at its product's rate, and a (user, product) at most once
 * per simulated day. A charge's day is the last instant in `days` at or before its `at` (the
 * gateway's clock, moved 25 h per day, so a day's runs never reach the next day's instant).
 */
async function checkCharges(origin: string, fleet: Fleet, operatorKey: string, days: number[]) {
  const rate = new Map(fleet.products.map((p) => [p.key, p.dailyRate]));
  const perSession = new Map<string, { user: string; product: string; tokens: number; day: number }>();
  for (const team of fleet.teams)
    for (let after = 0; ; ) {
      const page = (await api(origin, operatorKey, 'GET', `/v1/teams/${team}/ledger?after=${after}&limit=10000`)) as any[];
      for (const e of page) {
        if (!e.sessionId) continue;
        const at = Date.parse(e.at);
        const day = days.findLastIndex((d) => d <= at);
        const s = perSession.get(e.sessionId) ?? { user: e.autodeskId, product: e.product, tokens: 0, day };
        s.tokens -= e.tokens;
        perSession.set(e.sessionId, s);
      }
      if (page.length < 10000) break;
      after = page.at(-1).id;
    }
  // A charge before the first simulated day (none is sent then) or with an unreadable time is wrong too.
  let mischarged = 0;
  for (const s of perSession.values()) if (s.tokens !== rate.get(s.product) || s.day < 0) mischarged++;
  // Counted against the day each session was charged in, not against the most sessions any pair
  // has: one pair charged twice in a one-day run would otherwise set that most to 2 and pass.
  const sessionsPerDay = new Map<string, number>();
  for (const s of perSession.values()) {
    const key = `${s.user}|${s.product}|${s.day}`;
    sessionsPerDay.set(key, (sessionsPerDay.get(key) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const n of sessionsPerDay.values()) if (n > 1) duplicates++;
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

main().catch(async (e) => {
  console.error(e);
  await tearDown();
  process.exit(1);
});
