/**
 * `pnpm bench:large`: a team with 1,000,000 ledger entries (a year of Flex use by 1,000 people
 * over 10 products), then the usage report by day over the year, by user, by product, the
 * balance, the forecast, the right-sizing advice, the usage summary and the ledger's filters,
 * timed over HTTP against a real gateway process. Targets: report < 500 ms, balance < 5 ms; forecast and advice < 100 ms.
 * Rows are written straight into SQLite (a benchmark fixture, not an API test).
 */
import { execSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, migrate } from '@flexgate/gateway';
import { entryHash, GENESIS_HASH } from '@flexgate/shared';
import { foldAllUsage } from '../../gateway/src/db/repos/usage-fold';
import { builtGateway } from '../harness/built-gateway';
import { spawnGateway } from '../harness/process';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'flexgate-large-'));
const url = `sqlite:${join(dir, 'large.db')}`;
const database = connect({ url });
await migrate(database);
const sqlite = database.sqlite;
if (!sqlite) throw new Error('SQLite only');
const team = 'tm_large';
const start = Date.parse('2026-01-01T00:00:00Z');
const t0 = performance.now();
sqlite.transaction(() => {
  sqlite.prepare("insert into teams (id, name, created_at) values (?, 'Large', ?)").run(team, new Date(start).toISOString());
  const lots = Array.from({ length: 12 }, (_, i) => `lot_${i}`);
  const insertLot = sqlite.prepare(
    'insert into lots (id, team_id, tokens, remaining, purchased_at, expires_at, created_at, price_per_token) values (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  lots.forEach((id, i) => {
    const bought = new Date(start + i * 30 * 86400_000);
    const expires = new Date(bought.getTime());
    expires.setUTCFullYear(expires.getUTCFullYear() + 1);
    insertLot.run(id, team, 1_000_000, 1_000_000, bought.toISOString(), expires.toISOString(), bought.toISOString(), 100 + i);
  });
  // The catalog with subscription prices, the users as members, 100 of them with a subscription
  // launched on 30 days: what the advice reads besides the rollups.
  const at = new Date(start).toISOString();
  for (let p = 0; p < 10; p++) {
    sqlite
      .prepare('insert into products (key, name, daily_rate, added_at, subscription_price_per_year) values (?, ?, ?, ?, ?)')
      .run(`product-${p}`, `Product ${p}`, 3 + p, at, 150_000);
  }
  const member = sqlite.prepare(
    "insert into members (team_id, autodesk_id, name, name_fold, guest, all_products, status, created_at) values (?, ?, ?, ?, 0, 1, 'active', ?)",
  );
  const license = sqlite.prepare(
    "insert into licenses (id, kind, autodesk_id, product_key, starts_at, ends_at, created_at) values (?, 'subscription', ?, ?, ?, ?, ?)",
  );
  const used = sqlite.prepare('insert into license_days (license_id, day) values (?, ?)');
  for (let u = 0; u < 1000; u++) {
    const user = `user-${u}@large.example.com`;
    member.run(team, user, `User ${u}`, `user ${u}`, at);
    if (u % 10 !== 0) continue;
    license.run(`lic_${u}`, user, 'product-9', at, '2027-01-01T00:00:00.000Z', at);
    for (let d = 0; d < 30; d++) used.run(`lic_${u}`, new Date(start + d * 7 * 86400_000).toISOString().slice(0, 10));
  }
  const insert = sqlite.prepare(
    "insert into ledger (id, team_id, lot_id, kind, delta, at, actor, autodesk_id, product_key, session_id, reason, prev_hash, hash) values (?, ?, ?, 'charge', ?, ?, ?, ?, ?, ?, 'bench', ?, ?)",
  );
  // Chained as the gateway chains them (docs/ledger.md), so later appends and a verify go on from them.
  let prev = GENESIS_HASH;
  // Each lot's purchase first, and what the charges take from its `remaining`: R5 holds, as the
  // summary's figures assume.
  const purchase = sqlite.prepare(
    "insert into ledger (id, team_id, lot_id, kind, delta, at, actor, reason, prev_hash, hash) values (?, ?, ?, 'purchase', 1000000, ?, 'operator', 'bench', ?, ?)",
  );
  lots.forEach((lotId, i) => {
    const at = new Date(start).toISOString();
    const entry = {
      id: i + 1,
      at,
      kind: 'purchase' as const,
      tokens: 1_000_000,
      lotId,
      actor: 'operator',
      autodeskId: null,
      product: null,
      sessionId: null,
      reason: 'bench',
      prevHash: prev,
    };
    const hash = entryHash(entry);
    purchase.run(i + 1, team, lotId, at, prev, hash);
    prev = hash;
  });
  // Each charge's session, as a launch writes it: the ledger's user filter finds a user's entries through them.
  const session = sqlite.prepare(
    "insert into usage_sessions (id, autodesk_id, product_key, seq, team_id, starts_at, ends_at, rate, charged, refunded, ended_at, last_seen_at, entitlement, entitlement_exp, settled_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'bench', ?, ?)",
  );
  const seqs = new Map<string, number>();
  const taken = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const at = new Date(start + Math.floor((i / N) * 365 * 86400_000)).toISOString();
    const user = `user-${i % 1000}@large.example.com`;
    const product = `product-${(i * 7) % 10}`;
    const lotId = lots[Math.floor((i / N) * 12)] as string;
    const tokens = -(3 + (i % 10));
    const entry = {
      id: lots.length + i + 1,
      at,
      kind: 'charge' as const,
      tokens,
      lotId,
      actor: `user:${user}`,
      autodeskId: user,
      product,
      sessionId: `ses_${i}`,
      reason: 'bench',
      prevHash: prev,
    };
    const hash = entryHash(entry);
    insert.run(lots.length + i + 1, team, lotId, tokens, at, `user:${user}`, user, product, `ses_${i}`, prev, hash);
    const seq = (seqs.get(`${user}\n${product}`) ?? 0) + 1;
    seqs.set(`${user}\n${product}`, seq);
    session.run(`ses_${i}`, user, product, seq, team, at, at, -tokens, -tokens, at, at, at, at);
    prev = hash;
    taken.set(lotId, (taken.get(lotId) ?? 0) - tokens);
  }
  for (const [lotId, t] of taken) sqlite.prepare('update lots set remaining = remaining - ? where id = ?').run(t, lotId);
  const count = lots.length + N;
  sqlite.prepare('insert into ledger_heads (team_id, last_id, last_hash, count) values (?, ?, ?, ?)').run(team, count, prev, count);
})();
console.error(`seeded ${N} ledger rows in ${Math.round(performance.now() - t0)} ms`);
const t1 = performance.now();
// The rows went in behind the gateway's back: the rollups are folded from them as the server would.
await foldAllUsage(database.db);
console.error(`folded the daily and monthly usage rollups from them in ${Math.round(performance.now() - t1)} ms`);
sqlite.pragma('wal_checkpoint(TRUNCATE)');
await database.close();

const operatorKey = `large-${randomBytes(8).toString('hex')}`;
const gw = await spawnGateway({ databaseUrl: url, operatorKey, env: { FLEXGATE_TEST_CLOCK: '1' } });
const headers = { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' };
await fetch(`${gw.url}/v1/test/clock`, { method: 'POST', headers, body: JSON.stringify({ now: '2026-12-31T12:00:00Z' }) });

async function time(label: string, path: string, reps = 7): Promise<string> {
  const ms: number[] = [];
  let size = 0;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const res = await fetch(`${gw.url}${path}`, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 300)}`);
    ms.push(performance.now() - t);
    size = body.length;
  }
  ms.sort((a, b) => a - b);
  return `| ${label} | ${(ms[Math.floor(ms.length / 2)] as number).toFixed(1)} | ${(ms[0] as number).toFixed(1)} | ${(ms.at(-1) as number).toFixed(1)} | ${size} |`;
}

const year = 'from=2026-01-01&to=2026-12-31';
const rows = [
  await time('usage by day, one year', `/v1/teams/${team}/usage?by=day&${year}`),
  await time('usage by user, one year', `/v1/teams/${team}/usage?by=user&${year}`),
  await time('usage by product, one year', `/v1/teams/${team}/usage?by=product&${year}`),
  await time('usage by day, one month', `/v1/teams/${team}/usage?by=day&from=2026-06-01&to=2026-06-30`),
  // Not whole days: the whole days inside from the rollups, the two part days from the ledger.
  await time(
    'usage by day, a month from noon to noon (part days from the ledger)',
    `/v1/teams/${team}/usage?by=day&from=2026-06-01T12:00:00Z&to=2026-06-30T12:00:00Z`,
  ),
  await time('balance', `/v1/teams/${team}/balance`, 21),
  await time('forecast (burn of 28 days, R2 over 12 lots)', `/v1/teams/${team}/forecast`, 21),
  await time('advice (12 months x 1,000 users, 100 subscriptions)', `/v1/teams/${team}/advice`, 21),
  // What the dashboard and the console's Tokens page show: the figures of the valid lots, 90 days.
  await time('usage summary', `/v1/teams/${team}/usage/summary`, 21),
  await time('ledger, kind=expiry (none: the whole ledger)', `/v1/teams/${team}/ledger?kind=expiry`),
  await time('ledger, kind=purchase&kind=expiry (12 purchases)', `/v1/teams/${team}/ledger?kind=purchase&kind=expiry`),
  await time('ledger, kind=charge (first 1,000)', `/v1/teams/${team}/ledger?kind=charge`),
  await time('ledger, one user of 1,000 (their first page)', `/v1/teams/${team}/ledger?user=user-7%40large.example.com`),
  await time('ledger, user with no entries', `/v1/teams/${team}/ledger?user=nobody%40large.example.com`),
  await timeRefunds(7),
];

/**
 * R7a on the large ledger: a product closed within 5 minutes gives back exactly what its session
 * took, found by the session's ledger entries. Each rep is a new member who launches, then ends.
 */
async function timeRefunds(reps: number): Promise<string> {
  const call = async (method: string, path: string, body: unknown, auth = headers.authorization) => {
    const res = await fetch(`${gw.url}${path}`, { method, headers: { ...headers, authorization: auth }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  await call('POST', '/v1/products', { key: 'refund-bench', name: 'Refund bench', dailyRate: 5 });
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const autodeskId = `refund-${i}@large.example.com`;
    await call('POST', '/v1/users', { autodeskId, name: `Refund ${i}`, password: 'refund-bench-pw' });
    await call('POST', `/v1/teams/${team}/members`, { autodeskId, products: ['refund-bench'] });
    const mails = (await (await fetch(`${gw.url}/v1/outbox?to=${encodeURIComponent(autodeskId)}`, { headers })).json()) as {
      text: string;
    }[];
    const link = /^Link: (\S+)$/m.exec(mails.at(-1)?.text ?? '')?.[1] as string;
    await call('POST', '/v1/invitations/accept', { token: new URL(link).searchParams.get('token'), password: 'refund-bench-pw' });
    const { token } = await call('POST', '/v1/signin', { autodeskId, password: 'refund-bench-pw' });
    const launched = await call('POST', '/v1/launch', { product: 'refund-bench' }, `Bearer ${token}`);
    const t = performance.now();
    const ended = await call('POST', `/v1/sessions/${launched.session.id}/end`, {}, `Bearer ${token}`);
    ms.push(performance.now() - t);
    if (ended.refunded !== 5) throw new Error(`expected a refund of 5, got ${JSON.stringify(ended)}`);
  }
  ms.sort((a, b) => a - b);
  return `| session end with refund (R7a) | ${(ms[Math.floor(ms.length / 2)] as number).toFixed(1)} | ${(ms[0] as number).toFixed(1)} | ${(ms.at(-1) as number).toFixed(1)} | - |`;
}
/**
 * `main.js backup` of this database while the gateway serves (README, "Backing up"): how long the
 * copy and its checks take, and the slowest balance read answered meanwhile.
 */
async function timeBackup(): Promise<string> {
  const to = join(dir, 'backup.db');
  const t = performance.now();
  const child = spawn(process.execPath, [builtGateway(), 'backup', to], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const ended = new Promise<number | null>((res) => child.once('close', res));
  let done = false;
  ended.then(() => (done = true));
  const reads: number[] = [];
  while (!done) {
    const r = performance.now();
    await (await fetch(`${gw.url}/v1/teams/${team}/balance`, { headers })).text();
    reads.push(performance.now() - r);
  }
  const code = await ended;
  if (code !== 0) throw new Error(`backup exited ${code}: ${out}`);
  console.error(out.trim());
  return `| backup (\`main.js backup\`: copy, integrity check, every chain) while serving; balance reads meanwhile: ${reads.length}, slowest ${Math.max(...reads).toFixed(1)} ms | ${(performance.now() - t).toFixed(0)} | - | - | ${statSync(to).size} |`;
}
rows.push(await timeBackup());

await gw.stop();
rmSync(dir, { recursive: true, force: true });
const commit = execSync('git rev-parse --short HEAD').toString().trim();
console.log(
  `\n### Large data: ${N.toLocaleString('en')} ledger rows, SQLite, ${new Date().toISOString().slice(0, 16)}Z, commit ${commit}\n`,
);
console.log('| request | median ms | min ms | max ms | bytes |\n|---|---|---|---|---|');
console.log(rows.join('\n'));
