import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../harness/db';
import { CATALOG, expectLedgerMatchesBalance, joinTeam, ledgerOf } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';
import { type GatewayProcess, spawnGateway } from '../harness/process';

/**
 * Crash safety: a real gateway process is killed with SIGKILL at random moments while
 * purchases and launches are in flight, then restarted on the same database. Every answer the
 * client saw is in the ledger exactly once; every request is re-sent with its Idempotency-Key after
 * the restart and answers the same; the ledger invariants hold. SIGTERM drains instead.
 */
const KILLS = Number(process.env.FLEXGATE_CRASH_KILLS ?? 20);
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const rate = new Map<string, number>(CATALOG.map((p) => [p.key, p.dailyRate]));

let db: TestDatabase;
let proc: GatewayProcess | null = null;
let team = '';
/** Every process started by the kill loop, so that afterAll kills any left behind by a failure. */
const spawned: GatewayProcess[] = [];
const users: { autodeskId: string; token: string }[] = [];

/** The fixtures take a TestGateway but only call `op` and `anon`. */
const asGateway = (p: GatewayProcess) => ({ op: new Api(p.url, operatorKey), anon: new Api(p.url) }) as unknown as TestGateway;

async function start(env?: Record<string, string>): Promise<GatewayProcess> {
  proc = await spawnGateway({ databaseUrl: db.url, operatorKey, timeoutMs: 60_000, env });
  return proc;
}

beforeAll(async () => {
  db = await freshDatabase();
  const p = await start();
  const gw = asGateway(p);
  for (const product of CATALOG) expectStatus(await gw.op.post('/v1/products', product), 201);
  team = expectStatus(await gw.op.post('/v1/teams', { name: 'Crash team' }), 201).id;
  expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 1_000_000 }), 201);
  for (let i = 0; i < 30; i++) {
    const autodeskId = `crash${i}.${randomBytes(3).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    expectStatus(await gw.op.post('/v1/users', { autodeskId, name: `Crash ${i}`, password }), 201);
    await joinTeam(gw, team, { autodeskId, password }, { allProducts: true });
    const { token } = expectStatus(await gw.anon.post('/v1/signin', { autodeskId, password }), 200);
    users.push({ autodeskId, token });
  }
}, 120_000);

afterAll(async () => {
  await proc?.stop('SIGKILL');
  for (const g of spawned) await g.stop('SIGKILL');
  await db?.drop();
});

type Op = { key: string; kind: 'purchase'; tokens: number } | { key: string; kind: 'launch'; user: number; product: string };
type Seen = { op: Op; answer: { lotId?: string; session?: { id: string }; charged?: number } | null };

function send(p: GatewayProcess, op: Op): Promise<{ status: number; body: any }> {
  const headers = { 'idempotency-key': op.key };
  if (op.kind === 'purchase') return new Api(p.url, operatorKey).post(`/v1/teams/${team}/purchases`, { tokens: op.tokens }, headers);
  const u = users[op.user];
  if (!u) throw new Error('no such user');
  return new Api(p.url, u.token).post('/v1/launch', { product: op.product }, headers);
}

// In order: the SIGKILL test reads the whole team's ledger as its own; the SIGTERM one adds to it.
describe('crash safety', { shuffle: false }, () => {
  it(`SIGKILL at ${KILLS} random moments under load: every answer seen is in the ledger once, re-sends answer the same`, async () => {
    const seen: Seen[] = [];
    let n = 0;
    const nextOp = (): Op => {
      n += 1;
      const key = `k-${n}-${randomBytes(4).toString('hex')}`;
      if (Math.random() < 0.4) return { key, kind: 'purchase', tokens: 1 + Math.floor(Math.random() * 50) };
      const product = CATALOG[Math.floor(Math.random() * CATALOG.length)]?.key ?? 'autocad';
      return { key, kind: 'launch', user: Math.floor(Math.random() * users.length), product };
    };

    // Starting a process (tsx, module loading) costs far more than a cycle of load, so the next
    // few processes start on the same database while the current one serves and dies.
    const warm: Promise<GatewayProcess>[] = [];
    let started = 0;
    const prespawn = () => {
      started += 1;
      const next = spawnGateway({ databaseUrl: db.url, operatorKey, timeoutMs: 90_000 });
      warm.push(
        next.then((g) => {
          spawned.push(g);
          return g;
        }),
      );
    };
    if (proc) await proc.stop('SIGKILL');
    proc = null;
    for (let i = 0; i < Math.min(4, KILLS); i++) prespawn();
    for (let cycle = 0; cycle < KILLS; cycle++) {
      const p = await (warm.shift() as Promise<GatewayProcess>);
      if (started < KILLS) prespawn();
      let killed = false;
      // Eight clients sending back to back until the process dies under them.
      const clients = Array.from({ length: 8 }, async () => {
        while (!killed) {
          const op = nextOp();
          const entry: Seen = { op, answer: null };
          seen.push(entry);
          try {
            const r = await send(p, op);
            if (r.status === 200 || r.status === 201) entry.answer = r.body;
            else throw new Error(`unexpected ${r.status}: ${JSON.stringify(r.body)}`);
          } catch (error) {
            if (!killed) throw error;
            return; // connection reset by the kill: outcome unknown, re-sent below
          }
        }
      });
      // A random moment once this process has answered something (a loaded machine answers
      // slowly; a kill before any answer would prove little), or after 5 s at most.
      const answeredBefore = seen.filter((s) => s.answer).length;
      for (let waited = 0; waited < 5000 && seen.filter((s) => s.answer).length === answeredBefore; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      killed = true;
      const exit = await p.stop('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      await Promise.all(clients);
    }
    for (const g of spawned) await g.stop('SIGKILL');

    const p = await start();
    const gw = asGateway(p);
    // Re-send everything: what was seen answers the same; what was lost is done now, once.
    for (const s of seen) {
      const r = await send(p, s.op);
      expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
      if (!s.answer) continue;
      if (s.op.kind === 'purchase') expect(r.body.lotId).toBe(s.answer.lotId);
      else expect(r.body.session.id).toBe(s.answer.session?.id);
    }

    const ledger = await ledgerOf(gw, team);
    const purchases = ledger.filter((e) => e.kind === 'purchase');
    const sentPurchases = seen.filter((s) => s.op.kind === 'purchase');
    // Every purchase exactly once (plus the initial one): no loss, no double.
    expect(purchases.length).toBe(sentPurchases.length + 1);
    expect(new Set(purchases.map((e) => e.lotId)).size).toBe(purchases.length);
    for (const s of sentPurchases) {
      if (!s.answer) continue;
      const entries = purchases.filter((e) => e.lotId === s.answer?.lotId);
      expect(entries).toHaveLength(1);
      expect(entries[0].tokens).toBe(s.op.kind === 'purchase' ? s.op.tokens : -1);
    }
    // R7 across crashes: one charged session per (user, product), charged its rate once.
    const perSession = new Map<string, { tokens: number; product: string; user: string }>();
    for (const e of ledger.filter((x) => x.kind === 'charge')) {
      const cur = perSession.get(e.sessionId) ?? { tokens: 0, product: e.product, user: e.autodeskId };
      cur.tokens -= e.tokens;
      perSession.set(e.sessionId, cur);
    }
    for (const [id, s] of perSession) expect(s.tokens, `session ${id}`).toBe(rate.get(s.product));
    const combos = new Set(
      seen
        .filter((s) => s.op.kind === 'launch')
        .map((s) => (s.op.kind === 'launch' ? `${users[s.op.user]?.autodeskId}/${s.op.product}` : '')),
    );
    expect(new Set([...perSession.values()].map((s) => `${s.user}/${s.product}`))).toEqual(combos);
    expect(perSession.size).toBe(combos.size);
    for (const s of seen) if (s.answer && s.op.kind === 'launch') expect(perSession.has(s.answer.session?.id ?? '')).toBe(true);
    await expectLedgerMatchesBalance(gw, team);
    console.log(
      `crash: ${KILLS} kills, ${seen.length} requests, ${seen.filter((s) => s.answer).length} answered before a kill, ${perSession.size} sessions`,
    );
  }, 170_000);

  it('SIGTERM drains: requests in flight when it arrives all complete with 2xx, are in the ledger and in the log', async () => {
    await proc?.stop('SIGKILL');
    const p = await start({ FLEXGATE_LOG: 'info' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const slow = (path: string, token: string, body: object, key: string) =>
      new Promise<{ status: number; body: any; connection: string | undefined; id: string }>((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = http.request(`${p.url}${path}`, {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(text)),
            'idempotency-key': key,
          },
        });
        req.on('response', (res) => {
          let data = '';
          res.on('data', (d) => (data += d));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(data),
              connection: res.headers.connection,
              id: String(res.headers['x-request-id']),
            }),
          );
        });
        req.on('error', reject);
        // Half the body now, the rest after SIGTERM has arrived: the request is truly in flight.
        req.write(text.slice(0, 5));
        setTimeout(() => req.end(text.slice(5)), 600);
      });
    const N = 12;
    // Connections the gateway has accepted (each answered once), for the requests to come: a
    // connection still in the listen queue when SIGTERM arrives is not in flight, it is refused.
    const healthz = () =>
      new Promise<void>((resolve, reject) =>
        http.get(`${p.url}/healthz`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
    await Promise.all(Array.from({ length: N }, healthz));
    const calls = Array.from({ length: N }, (_, i) =>
      i % 2 === 0
        ? slow(`/v1/teams/${team}/purchases`, operatorKey, { tokens: 100 + i }, `term-${i}-${randomBytes(3).toString('hex')}`)
        : slow(
            '/v1/launch',
            users[(i * 7) % users.length]?.token ?? '',
            { product: 'civil-3d' },
            `term-${i}-${randomBytes(3).toString('hex')}`,
          ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const stopped = p.stop('SIGTERM');
    const answers = await Promise.all(calls);
    const exit = await stopped;
    proc = null;
    agent.destroy();
    expect(exit.code).toBe(0);
    for (const a of answers) expect([200, 201], JSON.stringify(a.body)).toContain(a.status);
    // The drain closes each connection after its answer, instead of leaving keep-alive sockets open.
    for (const a of answers) expect(a.connection).toBe('close');
    // The operator's log has the stop and each request drained, though the last were answered just
    // before the process exited: no line left waiting to be written.
    const logged = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; requestId?: string; status?: number });
    expect(logged.map((l) => l.msg)).toContain('shutting down');
    for (const a of answers) expect(logged.find((l) => l.msg === 'request' && l.requestId === a.id)?.status, a.id).toBe(a.status);

    const again = await start();
    const ledger = await ledgerOf(asGateway(again), team);
    for (const a of answers) {
      if (a.body.lotId) expect(ledger.filter((e) => e.kind === 'purchase' && e.lotId === a.body.lotId)).toHaveLength(1);
      else expect(ledger.some((e) => e.kind === 'charge' && e.sessionId === a.body.session.id) || a.body.charged === 0).toBe(true);
    }
    await expectLedgerMatchesBalance(asGateway(again), team);
  }, 60_000);
});
