/**
 * `pnpm gateway --cluster N` runs N worker processes sharing one port (node:cluster).
 * Runs on both engines (on SQLite the workers share one database file: BEGIN IMMEDIATE
 * serialises their writes, each waiting for the lock on later turns).
 */
import { get } from 'node:http';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../harness/db';
import { expectLedgerMatchesBalance, newMember, newTeam, seedCatalog, type TestUser } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { type Instance, type InstanceGroup, jwksOf, startGroup, viaInstance } from '../harness/instances';

let group: InstanceGroup;
let gw: Instance;

beforeAll(async () => {
  // FLEXGATE_LOG=info: the workers log their pids ("worker listening"), which the test needs.
  group = await startGroup({ count: 1, args: ['--cluster', '2'], env: { FLEXGATE_LOG: 'info' } });
  gw = group.instances[0] as Instance;
  await seedCatalog(viaInstance(gw));
}, 90_000);
afterAll(async () => group?.close(), 60_000);

/** Pids of the workers that announced themselves so far (each logs "worker listening" with its pid), in order. */
function workerPids(): number[] {
  return [...new Set([...gw.proc.output().matchAll(/"msg":"worker listening"[^\n]*?"pid":(\d+)/g)].map((m) => Number(m[1])))];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(what: string, cond: () => boolean, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${gw.proc.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** 10 (user, product) pairs launched 8 times each, all at once: 10 sessions, each charged once. */
async function expectExactlyOnce(team: string, users: TestUser[]): Promise<number> {
  const shots = users.flatMap((u) => ['autocad', 'revit'].flatMap((product) => Array.from({ length: 8 }, () => ({ u, product }))));
  const answers = await Promise.all(shots.map(({ u, product }) => gw.anon.as(u.api.token as string).post('/v1/launch', { product })));
  for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
  const sessions = new Set(answers.map((a) => a.body.session.id));
  expect(sessions.size).toBe(users.length * 2);
  const charged = answers.reduce((s, a) => s + a.body.charged, 0);
  expect(charged).toBe(users.length * (7 + 10));
  expect(answers.filter((a) => a.body.charged > 0).length).toBe(users.length * 2);
  const { keySet } = await jwksOf(gw);
  for (const a of answers) await jwtVerify(a.body.entitlement, keySet, { algorithms: ['EdDSA'] });
  await expectLedgerMatchesBalance(viaInstance(gw), team);
  return charged;
}

// In order: the second test kills a worker, then stops the gateway.
describe(`--cluster 2 on ${testEngine()}`, { shuffle: false }, () => {
  it('announces once both workers listen, and serves concurrent launches exactly once', async () => {
    expect(gw.proc.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(\w+, 2 workers\)/);
    // Each worker's own line (stdout) may come after the primary's announcement (stderr).
    await waitFor('both workers to log that they listen', () => workerPids().length === 2);
    const team = await newTeam(viaInstance(gw), 500);
    const users = await Promise.all(Array.from({ length: 5 }, () => newMember(viaInstance(gw), team, ['autocad', 'revit'])));
    const charged = await expectExactlyOnce(team, users);
    expect(expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance).toBe(500 - charged);
    // A scrape reaches one worker: its series say which, so that the two workers' counters never
    // take turns in one series (read by Prometheus as resets). A connection a scrape, to reach both
    // (from loopback, which needs no token while FLEXGATE_METRICS_TOKEN is unset).
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const text = await new Promise<string>((res, rej) =>
        get(`${gw.url}/metrics`, { agent: false }, (r) => {
          let body = '';
          r.on('data', (d) => (body += d));
          r.on('end', () => res(body));
        }).on('error', rej),
      );
      const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const workers = new Set(samples.map((l) => /^[a-z_:]+\{worker="(\d+)"/.exec(l)?.[1]));
      expect([...workers]).toHaveLength(1);
      seen.add(String([...workers][0]));
    }
    expect(seen.size).toBe(2);
  }, 120_000);

  it('replaces a worker that dies, keeps serving, and stops every worker on SIGTERM', async () => {
    const [victim] = workerPids();
    expect(victim).toBeDefined();
    process.kill(victim as number, 'SIGKILL');
    await waitFor('a replacement worker', () => workerPids().length >= 3);
    const team = await newTeam(viaInstance(gw), 500);
    const users = await Promise.all(Array.from({ length: 5 }, () => newMember(viaInstance(gw), team, ['autocad', 'revit'])));
    await expectExactlyOnce(team, users);

    const pids = workerPids().filter(alive);
    expect(pids.length).toBe(2);
    const exit = await gw.proc.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor('the workers to exit', () => pids.every((p) => !alive(p)), 15_000);
  }, 120_000);
});
