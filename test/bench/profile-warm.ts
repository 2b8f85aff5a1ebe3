/**
 * `tsx test/bench/profile-warm.ts`: the top frames of the gateway serving warm launches only.
 * The gateway runs in this process and is profiled (inspector) only while a separate load process
 * sends warm launches, so seeding and start-up do not blur the picture.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, testConfig } from '@flexgate/gateway';
import { api, prewarm, seedFleet } from './fleet';

const operatorKey = `op-${randomBytes(8).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'fg-prof-'));
const gw = await startGateway(testConfig({ port: 0, databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`, operatorKey, logLevel: 'silent', scryptN: 1024, rateLimit: false }));
const cold = process.env.MODE === 'cold';
const fleet = await seedFleet(gw.url, operatorKey, { warm: cold ? 1 : 200, cold: cold ? 1500 : 1, refused: 1 });
await prewarm(gw.url, fleet);
const tokensFile = join(dir, 'tokens.json');
writeFileSync(tokensFile, JSON.stringify({ url: gw.url, warm: cold ? fleet.cold : fleet.warm, cold, products: fleet.products.map((p) => p.key) }));
void api;

const inspector = new Session();
inspector.connect();
await inspector.post('Profiler.enable');
await inspector.post('Profiler.start');
const loader = spawn(process.execPath, ['--import', 'tsx', 'test/bench/warm-load.ts', tokensFile], { stdio: 'inherit' });
await new Promise((r) => loader.once('exit', r));
const { profile } = await inspector.post('Profiler.stop');
const nodes = profile.nodes as { hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
const total = nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
const self = new Map<string, number>();
for (const n of nodes) {
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\/\.pnpm\//, '').replace(/.*\/main\//, '')}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
}
// Inclusive time: a frame plus everything it called (children by id).
const byId = new Map((profile.nodes as { id: number; hitCount?: number; children?: number[]; callFrame: { functionName: string; url: string; lineNumber: number } }[]).map((n) => [n.id, n]));
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
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\/\.pnpm\//, '').replace(/.*\/main\//, '')}:${n.callFrame.lineNumber + 1}`;
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
    for (let p = parent.get(n.id); p !== undefined && chain.length < 6; p = parent.get(p)) {
      const f = byId.get(p)?.callFrame;
      if (f) chain.push(`${f.functionName || '(anon)'}@${f.url.replace(/.*\//, '')}:${f.lineNumber + 1}`);
    }
    chains.set(chain.join(' < '), (chains.get(chain.join(' < ')) ?? 0) + n.hitCount);
  }
  console.log([...chains].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${v} ${k}`).join('\n'));
}
if (process.env.INCLUSIVE) {
  console.log('| inclusive % | frame |\n|---|---|');
  console.log([...inclByKey].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, v]) => `| ${((v / total) * 100).toFixed(1)} | \`${k}\` |`).join('\n'));
}
console.log('| self % | frame |\n|---|---|');
console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, v]) => `| ${((v / total) * 100).toFixed(1)} | \`${k}\` |`).join('\n'));
await gw.close();
