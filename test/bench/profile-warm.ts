/**
 * `tsx test/bench/profile-warm.ts`: the top frames of the gateway serving warm launches only.
 * The gateway runs in this process and is profiled (inspector) only while a separate load process
 * sends warm launches, so seeding and start-up do not blur the picture.
 *
 * It also prints the gateway's CPU per request, read from /proc (Linux): its main thread alone,
 * and the whole process (libuv's thread pool signs and verifies, GC helpers), which `pnpm bench`
 * cannot separate. `MODE=cold`: every launch opens a session (1,000 users a second of `SECONDS` x 10 products, each pair
 * once). `PROFILE=0`: no profiler (its overhead out of the CPU figures). `PREVERIFY=1`: verify
 * every user's ID token once before the load, and print what a first verification costs.
 * `ALLOC=1` (with `PROFILE=0`): the bytes allocated per request, by allocating frame. `ALLOC=promoted`:
 * only what outlived the scavenges (promoted to the old generation, which major GCs then mark).
 * `PROFILE_DB=postgres://...`: the gateway on that (empty) PostgreSQL database instead of a SQLite file.
 * `CALLERS=writev` (`CALLERS_DEPTH=12`): who calls a native frame, six (or that many) JS frames up.
 * `THREADS=1`: the CPU per request of each of the process's threads (main, V8's helpers, libuv's
 * pool that signs, the checkpointer). `TOP=n`: that many frames (20). `STATEMENTS=1` (with
 * `PROFILE_DB`): the PostgreSQL statements sent per request, by kind. `FRESH=1`: each request on a new
 * connection, closed after its answer (as a product launched anew opens one).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, prewarm, seedFleet } from './fleet';
import { countStatements } from './pg-statements';
import { procCpu } from './proc';

// tsx writes each module on one line: frames are named by their source line through its source
// maps, which node keeps only for modules loaded after this call (hence the gateway's late import).
process.setSourceMapsEnabled(true);
const { startGateway, testConfig } = await import('@flexgate/gateway');
type Frame = { functionName: string; url: string; lineNumber: number; columnNumber?: number };
/** `name file:line` of a profiled frame, the line in the TypeScript source where a map knows it. */
function frameName(f: Frame, short = false): string {
  const entry = f.url && f.columnNumber !== undefined ? findSourceMap(f.url)?.findEntry(f.lineNumber, f.columnNumber) : undefined;
  const line = entry && 'originalLine' in entry ? Number(entry.originalLine) + 1 : f.lineNumber + 1;
  const file = short ? f.url.replace(/.*\//, '') : f.url.replace(/.*node_modules\/\.pnpm\//, '').replace(/.*\/main\//, '');
  return `${f.functionName || '(anon)'}${short ? '@' : ' '}${file}:${line}`;
}

// Before the gateway starts: it wraps the client class its connections are made from.
const statements = process.env.STATEMENTS === '1' ? countStatements() : null;
const operatorKey = `op-${randomBytes(8).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'fg-prof-'));
const gw = await startGateway(
  testConfig({
    port: 0,
    databaseUrl: process.env.PROFILE_DB ?? `sqlite:${join(dir, 'db.sqlite')}`,
    operatorKey,
    logLevel: (process.env.LOG as 'info' | undefined) ?? 'silent',
    scryptN: 1024,
    rateLimit: false,
  }),
);
const cold = process.env.MODE === 'cold';
// Cold: 10,000 launches a second before a (user, product) pair repeats (a relaunch); past them the load fails.
const coldUsers = Math.ceil(Number(process.env.SECONDS ?? 8) * 1000);
const fleet = await seedFleet(gw.url, operatorKey, { warm: cold ? 1 : 200, cold: cold ? coldUsers : 1, refused: 1 });
await prewarm(gw.url, fleet);
const mainThread = `/proc/self/task/${process.pid}/stat`;
const users = cold ? fleet.cold : fleet.warm;
if (process.env.PREVERIFY) {
  const [m0, p0] = [procCpu(mainThread), procCpu('/proc/self/stat')];
  await Promise.all(users.map((t) => gw.keys.verifyIdToken(t)));
  const per = (s: number) => Math.round((s / users.length) * 1e6);
  console.log(
    `first verification of ${users.length} ID tokens: ${per(procCpu('/proc/self/stat') - p0)} us of CPU each, ${per(procCpu(mainThread) - m0)} on the main thread`,
  );
}
const tokensFile = join(dir, 'tokens.json');
writeFileSync(tokensFile, JSON.stringify({ url: gw.url, warm: users, cold, products: fleet.products.map((p) => p.key) }));
void api;

const profiling = process.env.PROFILE !== '0';
const sampling = process.env.ALLOC === '1' || process.env.ALLOC === 'promoted';
const inspector = new Session();
inspector.connect();
await inspector.post('Profiler.enable');
if (profiling) await inspector.post('Profiler.start');
// ALLOC=1: where the bytes a launch allocates come from (V8's sampling heap profiler, one sample
// per 4 KB allocated, counting objects collected since: young garbage is what scavenges cost).
if (sampling) {
  await inspector.post('HeapProfiler.enable');
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: process.env.ALLOC !== 'promoted',
  });
}
/** CPU seconds of each thread of this process, by thread id. */
const threadCpu = () => new Map(readdirSync('/proc/self/task').map((t) => [t, procCpu(`/proc/self/task/${t}/stat`)] as const));
const threads0 = threadCpu();
const [m0, p0] = [procCpu(mainThread), procCpu('/proc/self/stat')];
statements?.reset();
const loader = spawn(process.execPath, ['--import', 'tsx', 'test/bench/warm-load.ts', tokensFile], {
  stdio: ['ignore', 'inherit', 'pipe'],
});
let said = '';
loader.stderr?.on('data', (d: Buffer) => {
  said += d;
  process.stderr.write(d);
});
await new Promise((r) => loader.once('exit', r));
const [m1, p1] = [procCpu(mainThread), procCpu('/proc/self/stat')];
// warm-load.ts reports req/s over its measured seconds (after its warm-up, for warm launches).
const requests = Number(/(\d+) req\/s/.exec(said)?.[1] ?? 0) * Number(process.env.SECONDS ?? 8);
if (statements && requests > 0) console.log(statements.report(requests));
if (process.env.THREADS && requests > 0) {
  for (const [t, s] of threadCpu()) {
    const used = s - (threads0.get(t) ?? 0);
    if (used > 0.01)
      console.log(`thread ${t}${t === String(process.pid) ? ' (main)' : ''}: ${Math.round((used / requests) * 1e6)} us per request`);
  }
}
if (requests > 0) {
  console.log(
    `gateway CPU per request (approximate: includes the warm-up second of warm runs): main thread ${Math.round(((m1 - m0) / requests) * 1e6)} us, process ${Math.round(((p1 - p0) / requests) * 1e6)} us`,
  );
}
if (sampling) {
  type AllocNode = { callFrame: Frame; selfSize: number; children: AllocNode[] };
  const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: AllocNode } };
  const bySite = new Map<string, number>();
  let allBytes = 0;
  const walk = (n: AllocNode, stack: string[]) => {
    const here = frameName(n.callFrame);
    const path = [...stack, here];
    if (n.selfSize > 0) {
      // The allocating frame and its caller: "who allocates" is usually one of node's own frames.
      const key = path.slice(-2).reverse().join(' < ');
      bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
      allBytes += n.selfSize;
    }
    for (const c of n.children) walk(c, path);
  };
  walk(profile.head, []);
  const served = Number(/(\d+) req\/s/.exec(said)?.[1] ?? 0) * (Number(process.env.SECONDS ?? 8) + 1);
  console.log(
    `${process.env.ALLOC === 'promoted' ? 'promoted' : 'allocated'} about ${served > 0 ? Math.round(allBytes / served) : '?'} bytes per request (sampled; includes the warm-up second)`,
  );
  console.log('| bytes/request | allocating frame < caller |\n|---|---|');
  console.log(
    [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([k, v]) => `| ${served > 0 ? Math.round(v / served) : v} | \`${k}\` |`)
      .join('\n'),
  );
}
if (!profiling) {
  if (process.env.MEM)
    console.log(
      JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576)]))),
      readFileSync('/proc/self/status', 'utf8').match(/Rss\w+:\s+\d+ kB/g),
    );
  await gw.close();
  process.exit(0);
}
const { profile } = await inspector.post('Profiler.stop');
const nodes = profile.nodes as { hitCount?: number; callFrame: Frame }[];
const total = nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
const self = new Map<string, number>();
for (const n of nodes) {
  const key = frameName(n.callFrame);
  self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
}
// Inclusive time: a frame plus everything it called (children by id).
const byId = new Map(
  (
    profile.nodes as {
      id: number;
      hitCount?: number;
      children?: number[];
      callFrame: Frame;
    }[]
  ).map((n) => [n.id, n]),
);
const incl = new Map<number, number>();
const inclusive = (id: number): number => {
  const known = incl.get(id);
  if (known !== undefined) return known;
  const n = byId.get(id);
  const t = (n?.hitCount ?? 0) + (n?.children ?? []).reduce((s, c) => s + inclusive(c), 0);
  incl.set(id, t);
  return t;
};
const inclByKey = new Map<string, number>();
for (const n of byId.values()) {
  if (!/gateway\/src|hono|zod/.test(n.callFrame.url)) continue;
  const key = frameName(n.callFrame);
  inclByKey.set(key, Math.max(inclByKey.get(key) ?? 0, 0) + inclusive(n.id));
}
if (process.env.CALLERS) {
  // Who calls a native frame: the chain of JS frames above it, weighted by its samples.
  const parent = new Map<number, number>();
  for (const n of byId.values()) for (const c of n.children ?? []) parent.set(c, n.id);
  const chains = new Map<string, number>();
  for (const n of byId.values()) {
    if (n.callFrame.functionName !== process.env.CALLERS || !n.hitCount) continue;
    const chain: string[] = [];
    for (let p = parent.get(n.id); p !== undefined && chain.length < Number(process.env.CALLERS_DEPTH ?? 6); p = parent.get(p)) {
      const f = byId.get(p)?.callFrame;
      if (f) chain.push(frameName(f, true));
    }
    chains.set(chain.join(' < '), (chains.get(chain.join(' < ')) ?? 0) + n.hitCount);
  }
  console.log(
    [...chains]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([k, v]) => `${v} ${k}`)
      .join('\n'),
  );
}
if (process.env.INCLUSIVE) {
  console.log('| inclusive % | frame |\n|---|---|');
  console.log(
    [...inclByKey]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 40)
      .map(([k, v]) => `| ${((v / total) * 100).toFixed(1)} | \`${k}\` |`)
      .join('\n'),
  );
}
console.log('| self % | frame |\n|---|---|');
console.log(
  [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(process.env.TOP ?? 20))
    .map(([k, v]) => `| ${((v / total) * 100).toFixed(1)} | \`${k}\` |`)
    .join('\n'),
);
await gw.close();
