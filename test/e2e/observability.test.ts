import { randomBytes } from 'node:crypto';
import { type RunningGateway, startGateway, testConfig } from '@flexgate/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger } from '../../gateway/src/lib/logger';
import { freshDatabase, type TestDatabase, testEngine } from '../harness/db';
import { newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';

/**
 * Observability: JSON log lines that carry the request id, one access line per request,
 * and GET /metrics in Prometheus text format.
 */
let database: TestDatabase;
let running: RunningGateway;
let gw: TestGateway;
const lines: Record<string, any>[] = [];
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const metricsToken = `mt_${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  database = await freshDatabase();
  const config = testConfig({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: database.url,
    operatorKey,
    metricsToken,
    testClock: true,
    rateLimit: false,
    logLevel: 'debug',
    scryptN: 1024,
  });
  running = await startGateway(config, { logger: jsonLogger('debug', (l) => lines.push(JSON.parse(l))) });
  gw = { op: new Api(running.url, operatorKey), anon: new Api(running.url), url: running.url } as unknown as TestGateway;
  await seedCatalog(gw);
});
afterAll(async () => {
  await running?.close();
  await database?.drop();
});

/** GET /metrics with FLEXGATE_METRICS_TOKEN, another bearer, or (null) none. */
const scrape = async (token: string | null = metricsToken) => {
  const r = await (token !== null ? gw.anon.as(token) : gw.anon).get('/metrics');
  return {
    status: r.status,
    type: r.headers.get('content-type') ?? '',
    text: String(typeof r.body === 'string' ? r.body : JSON.stringify(r.body)),
  };
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};
/** Relaunches answered from the warm cache without a read, and in all (with a recheck or not). */
const cachedAnswers = (text: string) => value(text, 'flexgate_launch_warm_answers_total{how="cached"}');
const warmAnswers = (text: string) => cachedAnswers(text) + value(text, 'flexgate_launch_warm_answers_total{how="rechecked"}');

describe('logs', () => {
  it('one info access line per request with method, route pattern, status, ms and the request id', async () => {
    const team = await newTeam(gw);
    const id = `obs-${randomBytes(4).toString('hex')}`;
    const r = await gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 5 }, { 'x-request-id': id });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe(id);
    const mine = lines.filter((l) => l.requestId === id);
    const access = mine.filter((l) => l.msg === 'request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: 'info', method: 'POST', route: '/v1/teams/:team/purchases', status: 201, requestId: id });
    expect(typeof access[0]?.ms).toBe('number');
    expect(typeof access[0]?.time).toBe('string');
    // The raw path (with the team id) is not the label: routes stay a bounded set.
    expect(access[0]?.route).not.toContain(team);
  });

  it('every line written while serving a request carries its id; a refusal is logged with its status', async () => {
    const before = lines.length;
    const r = await gw.anon.as('garbage').get('/v1/products', { 'x-request-id': 'obs-refused' });
    expect(r.status).toBe(401);
    expect(r.body.requestId).toBe('obs-refused');
    const written = lines.slice(before);
    expect(written.length).toBeGreaterThan(0);
    for (const l of written) expect(l.requestId, JSON.stringify(l)).toBe('obs-refused');
    expect(written.find((l) => l.msg === 'request')).toMatchObject({ status: 401, route: expect.any(String) });
    // An unknown path is labelled "unmatched", never by the path the client made up.
    await gw.anon.get(`/v1/no-such-${randomBytes(3).toString('hex')}`, { 'x-request-id': 'obs-404' });
    expect(lines.find((l) => l.requestId === 'obs-404' && l.msg === 'request')).toMatchObject({ status: 404, route: 'unmatched' });
  });

  it('a request without X-Request-Id gets a fresh id of its own, in the header, a refusal body and the log line', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const before = lines.length;
    // Launches (the launch lane), warm ones too, and a request of the general chain.
    const answers = [
      await u.api.post('/v1/launch', { product: 'autocad' }),
      await u.api.post('/v1/launch', { product: 'autocad' }),
      await u.api.post('/v1/launch', { product: 'autocad' }),
      await u.api.post('/v1/launch', { product: 'no-such-product' }),
      await gw.op.get('/v1/products'),
    ];
    const ids = answers.map((r) => r.headers.get('x-request-id') ?? '');
    for (const id of ids) expect(id).toMatch(/^[\w.-]{8,64}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(answers[3]?.body.requestId).toBe(ids[3]);
    const logged = lines
      .slice(before)
      .filter((l) => l.msg === 'request')
      .map((l) => l.requestId);
    for (const id of ids) expect(logged).toContain(id);
  });
});

describe('GET /metrics', () => {
  it('Prometheus text: requests by route and status, a latency histogram, launches by source, tokens charged, refusals by code', async () => {
    const team = await newTeam(gw, 20);
    const u = await newMember(gw, team, ['autocad', 'revit']);
    const before = (await scrape()).text;
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200); // 7 charged
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200); // same session
    expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200); // 10 charged, 3 left
    expect((await u.api.post('/v1/launch', { product: 'maya' })).status).toBe(403); // no-access
    const short = await newMember(gw, team, ['civil-3d']);
    expect((await short.api.post('/v1/launch', { product: 'civil-3d' })).body.code).toBe('insufficient-tokens');
    expectStatus(await gw.op.post('/v1/subscriptions', { autodeskId: u.autodeskId, product: 'maya', endsAt: '2099-01-01T00:00:00Z' }), 201);
    expectStatus(await u.api.post('/v1/launch', { product: 'maya' }), 200);

    const m = await scrape();
    expect(m.status).toBe(200);
    expect(m.type).toContain('text/plain');
    const d = (series: string) => value(m.text, series) - value(before, series);
    expect(d('flexgate_http_requests_total{method="POST",route="/v1/launch",status="200"}')).toBe(4);
    expect(d('flexgate_http_requests_total{method="POST",route="/v1/launch",status="403"}')).toBe(2);
    expect(d('flexgate_launches_total{source="flex",charged="yes"}')).toBe(2);
    expect(d('flexgate_launches_total{source="flex",charged="no"}')).toBe(1);
    expect(d('flexgate_launches_total{source="subscription",charged="no"}')).toBe(1);
    expect(d('flexgate_tokens_charged_total{via="launch"}')).toBe(17);
    expect(d('flexgate_launch_refusals_total{code="no-access"}')).toBe(1);
    expect(d('flexgate_launch_refusals_total{code="insufficient-tokens"}')).toBe(1);
    expect(m.text).toContain('# TYPE flexgate_http_request_duration_seconds histogram');
    expect(value(m.text, 'flexgate_http_request_duration_seconds_bucket{method="POST",route="/v1/launch",le="+Inf"}')).toBe(
      value(m.text, 'flexgate_http_request_duration_seconds_count{method="POST",route="/v1/launch"}'),
    );
    // Memory as an operator watches it: real figures of a running process.
    expect(value(m.text, 'process_resident_memory_bytes')).toBeGreaterThan(20 * 2 ** 20);
    expect(value(m.text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value(m.text, 'nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(value(m.text, 'nodejs_heap_size_total_bytes'));
    // Every sample line is `name{labels} number`, as a Prometheus scraper reads it.
    for (const l of m.text.trim().split('\n')) if (!l.startsWith('#')) expect(l).toMatch(/^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$/);
  });

  it('charge groups: each charged launch counted in one committed group; concurrent launches of one team share groups', async () => {
    const team = await newTeam(gw, 1000);
    const users = await Promise.all(Array.from({ length: 24 }, () => newMember(gw, team, ['autocad'])));
    const before = (await scrape()).text;
    const started = performance.now();
    const answers = await Promise.all(users.map((u) => u.api.post('/v1/launch', { product: 'autocad' })));
    const seconds = (performance.now() - started) / 1000;
    for (const a of answers) expect(expectStatus(a, 200).charged).toBe(7);
    const m = (await scrape()).text;
    const d = (series: string) => value(m, series) - value(before, series);
    expect(d('flexgate_charge_group_launches_sum')).toBe(24);
    const groups = d('flexgate_charge_group_launches_count');
    // 24 launches in flight at once: the ones that arrive while a group commits wait for the next one, together.
    expect(groups).toBeGreaterThanOrEqual(1);
    expect(groups).toBeLessThan(24);
    expect(d('flexgate_charge_group_launches_bucket{le="+Inf"}')).toBe(groups);
    expect(d('flexgate_charge_group_duration_seconds_count')).toBe(groups);
    // Each group committed within the launches' own time, and with nothing else writing none started over.
    expect(d('flexgate_charge_group_duration_seconds_sum')).toBeGreaterThan(0);
    expect(d('flexgate_charge_group_duration_seconds_sum')).toBeLessThanOrEqual(groups * seconds);
    expect(d('flexgate_charge_group_restarts_total{reason="lost-race"}')).toBe(0);
    expect(d('flexgate_charge_group_restarts_total{reason="taken-apart"}')).toBe(0);
  });

  it('relaunches of an open session are counted as answered from the warm cache, with or without a read', async () => {
    const team = await newTeam(gw, 100);
    const user = await newMember(gw, team, ['autocad']);
    const first = (await scrape()).text;
    const before = warmAnswers(first);
    // The launch that charged and the first relaunch (which finds the session and keeps its answer) are not.
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200).charged).toBe(7);
    for (let i = 0; i < 4; i++) expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200).charged).toBe(0);
    const after = (await scrape()).text;
    expect(warmAnswers(after) - before).toBe(3);
    // SQLite's file tells when nothing was committed since a recheck: then no read at all (launch/coherence.ts).
    // PostgreSQL has no such signal in time, so every warm launch there rechecks.
    if (testEngine() === 'sqlite') expect(cachedAnswers(after) - cachedAnswers(first)).toBeGreaterThanOrEqual(1);
    else expect(cachedAnswers(after) - cachedAnswers(first)).toBe(0);
  });

  it("R7a: relaunches on two machines of a day not settled yet are answered warm; a machine closed in another user's day does not stop that", async () => {
    const team = await newTeam(gw, 100);
    const [ann, bob] = [await newMember(gw, team, ['autocad']), await newMember(gw, team, ['autocad'])];
    const launch = async (u: typeof ann, machine: string) =>
      expectStatus(await u.api.post('/v1/launch', { product: 'autocad', machine }), 200);
    // Bob's day on two machines, one closed within its first five minutes: only that machine is marked closed.
    const bobs = await launch(bob, 'bob-1');
    await launch(bob, 'bob-2');
    expect(expectStatus(await bob.api.post(`/v1/sessions/${bobs.session.id}/end`, { machine: 'bob-2' }), 200).refunded).toBe(0);
    // Ann's day on two machines, each recorded by its first launches (the slow path).
    for (const m of ['ann-1', 'ann-1', 'ann-2', 'ann-2']) await launch(ann, m);
    const before = warmAnswers((await scrape()).text);
    for (let i = 0; i < 3; i++) for (const m of ['ann-1', 'ann-2']) expect((await launch(ann, m)).charged).toBe(0);
    expect(warmAnswers((await scrape()).text) - before).toBe(6);
  });

  it('with FLEXGATE_METRICS_TOKEN set, answers it and the operator key only: a loopback peer without it (a reverse proxy) is refused', async () => {
    expect((await scrape(operatorKey)).status).toBe(200);
    expect((await scrape(metricsToken)).status).toBe(200);
    for (const refused of [await scrape('not-the-token'), await scrape(null)]) {
      expect(refused.status).toBe(403);
      expect(refused.type).toContain('application/problem+json');
    }
    // Through a proxy on the same host: the peer is loopback, the caller is not.
    const proxied = await gw.anon.get('/metrics', { 'x-forwarded-for': '203.0.113.9' });
    expect(proxied.status).toBe(403);
  });

  it('without FLEXGATE_METRICS_TOKEN, answers a loopback scraper with no credential', async () => {
    const plain = await startTestGateway();
    try {
      const r = await plain.anon.get('/metrics');
      expect(r.status).toBe(200);
      expect(String(r.body)).toMatch(/^# HELP /m);
      expect((await plain.anon.as('not-the-operator-key').get('/metrics')).status).toBe(403);
    } finally {
      await plain.close();
    }
  });
});
