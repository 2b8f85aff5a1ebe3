/**
 * `node --import tsx test/bench/export-turns.ts [audit] [charges] [reps]`: the longest turn of a
 * SQLite gateway's event loop during each long export of one team (how long a launch may wait
 * behind it): the audit CSVs, team and operator, and `GET /v1/teams/:t/ledger?limit=10000`. A fresh
 * file with `audit` audit entries of the team (20,000 by default) and `charges` ledger entries
 * (200,000), written straight into the tables; the gateway built by `pnpm build` runs with a
 * preloaded timer that logs every gap of its loop over 8 ms and the CPU the process used in it
 * (less than the gap when the machine left it waiting), matched to each call's time (`GAPS=1`: all
 * of them, gap/CPU). `GATEWAY_NODE_OPTIONS`: more options for the gateway's node (e.g. another `--require`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRows, writeAudit } from '../harness/audit-rows';
import { writeCharges } from '../harness/charges';
import { freshDatabase } from '../harness/db';
import { CATALOG, seedCatalog } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';
import { spawnGateway } from '../harness/process';

const trail = Number(process.argv[2] ?? 20_000);
const charges = Number(process.argv[3] ?? 200_000);
const reps = Number(process.argv[4] ?? 3);

const dir = mkdtempSync(join(tmpdir(), 'fg-export-turns-'));
const gaps = join(dir, 'gaps.cjs');
writeFileSync(
  gaps,
  `let last = performance.now();
let cpu = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const used = process.cpuUsage(cpu);
  if (now - last > 10) {
    const ms = (used.user + used.system) / 1000;
    process.stderr.write('{"gap":' + (now - last - 2).toFixed(1) + ',"cpu":' + ms.toFixed(1) + ',"at":' + Date.now() + '}\\n');
  }
  last = now;
  cpu = process.cpuUsage();
}, 2).unref();
`,
);

const database = await freshDatabase('sqlite');
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const proc = await spawnGateway({
  databaseUrl: database.url,
  operatorKey,
  env: { NODE_OPTIONS: `--require ${gaps} ${process.env.GATEWAY_NODE_OPTIONS ?? ''}`.trim() },
});
try {
  const op = new Api(proc.url, operatorKey);
  await seedCatalog({ op, anon: new Api(proc.url) } as TestGateway);
  const team = expectStatus(await op.post('/v1/teams', { name: 'Large team' }), 201).id as string;
  const tag = randomBytes(3).toString('hex');
  const first = Date.now() - 200 * 86_400_000;
  await writeAudit(database.url, auditRows(team, trail, first, tag));
  await writeCharges(
    database.url,
    team,
    Array.from({ length: charges }, (_, c) => ({
      at: new Date(first + c * 60_000).toISOString(),
      autodeskId: `u${c % 2000}.${tag}@example.com`,
      product: (CATALOG[c % CATALOG.length] as (typeof CATALOG)[number]).key,
    })),
    10_000_000,
  );

  // A fresh pool: the seeding held this process's loop past the gateway's keep-alive.
  const caller = new Api(proc.url, operatorKey);
  const routes: [string, string][] = [
    ['team audit CSV', `/v1/teams/${team}/audit?format=csv`],
    ['operator audit CSV', '/v1/operator/audit?format=csv'],
    ['ledger, limit=10000', `/v1/teams/${team}/ledger?limit=10000`],
  ];
  console.log(`${trail} audit entries, ${charges} ledger entries; longest gap of the event loop during each call (ms)`);
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, path] of routes) {
      const seen = proc.output().length;
      const t0 = Date.now();
      const r = await caller.get(path);
      const t1 = Date.now();
      expectStatus(r, 200);
      await new Promise((res) => setTimeout(res, 50));
      const during: { gap: number; cpu: number }[] = [];
      for (const line of proc.output().slice(seen).split('\n')) {
        if (!line.startsWith('{"gap"')) continue;
        const g = JSON.parse(line) as { gap: number; cpu: number; at: number };
        if (g.at >= t0 && g.at - g.gap <= t1) during.push(g);
      }
      const longest = Math.max(0, ...during.map((g) => g.gap));
      const busiest = Math.max(0, ...during.map((g) => g.cpu));
      const all = process.env.GAPS ? `: ${during.map((g) => `${g.gap}/${g.cpu}`).join(' ')}` : '';
      console.log(
        `${name.padEnd(20)} ${String(t1 - t0).padStart(5)} ms the call, ${r.text.length} bytes; longest gap ${longest.toFixed(1)} ms, most CPU in a gap ${busiest.toFixed(1)} ms${all}`,
      );
    }
  }
} catch (e) {
  console.error(
    proc
      .output()
      .split('\n')
      .filter((l) => !l.startsWith('{"gap"'))
      .slice(-20)
      .join('\n'),
  );
  throw e;
} finally {
  await proc.stop();
  await database.drop();
}
