import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceOf, newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

/**
 * POST /v1/launch is served by a lane ahead of the general middleware chain when the
 * request is the common case (Content-Length, JSON, an ID token), and by the chain otherwise
 * (here: a chunked body, which has no Content-Length). Both must be the same endpoint to a
 * product: same answers, same refusals, same request ids, both counted in /metrics.
 */
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

/** The same launch, sent either with Content-Length (the lane) or chunked (the chain). */
async function launch(token: string, body: unknown, how: 'lane' | 'chain', requestId?: string, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await request(`${gw.url}/v1/launch`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
      ...headers,
    },
    // A stream has no length known in advance: undici sends it chunked.
    body: how === 'lane' ? text : Readable.from([Buffer.from(text)]),
  });
  return {
    status: res.statusCode,
    requestId: res.headers['x-request-id'],
    type: res.headers['content-type'],
    challenge: res.headers['www-authenticate'],
    body: (await res.body.json()) as any,
  };
}

describe('the launch lane and the general chain answer alike', () => {
  it('R6/R7: a charged launch through one, the warm one through the other: one session, charged once', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const token = u.api.token as string;
    const viaChain = await launch(token, { product: 'autocad' }, 'chain', 'chain-1');
    const viaLane = await launch(token, { product: 'autocad' }, 'lane', 'lane-1');
    expect(viaChain).toMatchObject({ status: 200, requestId: 'chain-1', body: { charged: 7, balance: 93 } });
    expect(viaLane).toMatchObject({
      status: 200,
      requestId: 'lane-1',
      body: { charged: 0, balance: 93, session: { id: viaChain.body.session.id } },
    });
    expect(viaLane.body.entitlement).toBe(viaChain.body.entitlement);
    const again = await launch(token, { product: 'autocad' }, 'chain');
    expect(again.body).toEqual(viaLane.body);
  });

  it('R12 and bad input: the same problem+json from both, with the request id', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const token = u.api.token as string;
    for (const body of [{ product: 'revit' }, { product: 'autocad', extra: 1 }, { product: 'no such product' }]) {
      const lane = await launch(token, body, 'lane', 'same-id');
      const chain = await launch(token, body, 'chain', 'same-id');
      expect(lane.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(lane.type).toContain('application/problem+json');
      expect({ ...lane, body: { ...lane.body } }).toEqual({ ...chain, body: { ...chain.body } });
      expect(lane.body.requestId).toBe('same-id');
    }
  });

  it('a NUL in the body, raw or escaped: the same 400 from both, and nothing charged', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const token = u.api.token as string;
    for (const text of ['{"product":"autocad","machine":"ws\\u0000x"}', '{"product":"autocad","machine":"ws\u0000x"}']) {
      const lane = await launch(token, text, 'lane', 'nul');
      expect(lane).toMatchObject({ status: 400, body: { code: 'invalid-request', detail: 'NUL characters are not accepted.' } });
      expect(lane).toEqual(await launch(token, text, 'chain', 'nul'));
    }
    expect(await balanceOf(gw, team)).toBe(100);
  });

  it('a launch body over the limit is refused with 413 whole, never read and served', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    // Valid JSON, 1 MiB of spaces inside: the limit is on bytes, not on what they mean.
    const text = `{"product":"autocad"${' '.repeat(1024 * 1024)}}`;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(new URL('/v1/launch', gw.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${u.api.token}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      // The gateway may answer and close before the last bytes are written: only an error before the answer counts.
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      req.end(text);
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'payload-too-large' });
    expect(await balanceOf(gw, team)).toBe(100);
  });

  it('a forged or expired ID token: the same 401 with WWW-Authenticate from both, and no launch refusal counted', async () => {
    const refusals = async () =>
      Number(
        /flexgate_launch_refusals_total\{code="unauthorized"\} (\d+)/.exec(expectStatus(await gw.anon.get('/metrics'), 200))?.[1] ?? 0,
      );
    const before = await refusals();
    const forged = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl';
    const lane = await launch(forged, { product: 'autocad' }, 'lane', 'forged');
    const chain = await launch(forged, { product: 'autocad' }, 'chain', 'forged');
    expect(lane).toMatchObject({ status: 401, challenge: 'Bearer', body: { code: 'unauthorized', requestId: 'forged' } });
    expect(lane).toEqual(chain);
    // A caller that is no user is not a launch refused: the refusals are the products' (R12 and the like).
    expect(await refusals()).toBe(before);
  });

  it('an Idempotency-Key that is not one (too long, a space, not ASCII): the same 400 from both, nothing charged', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    for (const key of ['k'.repeat(201), 'two words', 'clé']) {
      const answers = [];
      for (const how of ['lane', 'chain'] as const) {
        answers.push(await launch(u.api.token as string, { product: 'autocad' }, how, 'bad-key', { 'idempotency-key': key }));
      }
      expect(answers[0], key).toMatchObject({ status: 400, body: { code: 'invalid-request' } });
      expect(answers[0]).toEqual(answers[1]);
    }
    expect(await balanceOf(gw, team)).toBe(100);
  });

  it('a launch body sent as text/plain: the same refusal from both, and nothing charged', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const token = u.api.token as string;
    const plain = { 'content-type': 'text/plain' };
    const lane = await launch(token, { product: 'autocad' }, 'lane', 'plain', plain);
    expect(lane.status).toBe(415);
    expect(lane.type).toContain('application/problem+json');
    expect(lane).toEqual(await launch(token, { product: 'autocad' }, 'chain', 'plain', plain));
    expect(await balanceOf(gw, team)).toBe(100);
  });

  it('only POST /v1/launch is a launch: the same body with another method or to another path charges nothing', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const headers = { authorization: `Bearer ${u.api.token as string}`, 'content-type': 'application/json' };
    for (const [method, path] of [
      ['PUT', '/v1/launch'],
      ['PATCH', '/v1/launch'],
      ['POST', '/v1/me/launch'],
      ['POST', '/v1/launches'],
    ] as const) {
      // With Content-Length, an ID token and a launch's JSON: all the lane looks at but the route.
      const r = await request(`${gw.url}${path}`, { method, headers, body: JSON.stringify({ product: 'autocad' }) });
      expect(r.statusCode, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(r.headers['content-type'], `${method} ${path}`).toContain('application/problem+json');
      await r.body.dump();
    }
    expect(await balanceOf(gw, team)).toBe(100);
  });

  it('the operator key is not a user: 403 from /v1/launch whichever way it comes', async () => {
    for (const how of ['lane', 'chain'] as const) {
      const r = await launch(gw.operatorKey, { product: 'autocad' }, how);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('forbidden');
    }
  });

  it('R6/R7: a body that arrives in pieces, its head first, is read as it comes and answered as one sent whole', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const token = u.api.token as string;
    const text = JSON.stringify({ product: 'autocad' });
    const head = `POST /v1/launch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\nX-Request-Id: pieces\r\nConnection: close\r\n\r\n`;
    const url = new URL(gw.url);
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    socket.on('data', (b: Buffer) => received.push(b));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(head);
    await sleep(50);
    socket.write(text.slice(0, 5));
    await sleep(50);
    socket.write(text.slice(5));
    await closed;
    const answer = Buffer.concat(received).toString('utf8');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(answer).toMatch(/\r\nx-request-id: pieces\r\n/i);
    const opened = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(opened).toMatchObject({ granted: true, charged: 7, balance: 93 });
    // Whole, through the lane, the relaunch finds the session the pieces opened.
    const whole = await launch(token, { product: 'autocad' }, 'lane');
    expect(whole.body).toMatchObject({ charged: 0, balance: 93, session: { id: opened.session.id }, entitlement: opened.entitlement });
  });

  it('both count in /metrics: requests by status and launches by source', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['maya']);
    const token = u.api.token as string;
    const count = async (pattern: RegExp) => Number(pattern.exec(expectStatus(await gw.anon.get('/metrics'), 200))?.[1] ?? 0);
    const ok = /flexgate_http_requests_total\{method="POST",route="\/v1\/launch",status="200"\} (\d+)/;
    const warm = /flexgate_launches_total\{source="flex",charged="no"\} (\d+)/;
    const [ok0, warm0] = [await count(ok), await count(warm)];
    await launch(token, { product: 'maya' }, 'lane');
    await launch(token, { product: 'maya' }, 'lane');
    await launch(token, { product: 'maya' }, 'chain');
    expect(await count(ok)).toBe(ok0 + 3);
    expect(await count(warm)).toBe(warm0 + 2);
  });
});

describe('FLEXGATE_LAUNCH_CACHE=0', () => {
  it('R7: without the warm-launch cache a relaunch still finds its open session and charges nothing', async () => {
    const plain = await startTestGateway({ launchCache: 0 });
    try {
      await seedCatalog(plain);
      const team = await newTeam(plain, 100);
      const u = await newMember(plain, team, ['revit']);
      const first = expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
      const again = expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
      expect(again).toMatchObject({
        charged: 0,
        balance: 100 - first.charged,
        session: { id: first.session.id },
        entitlement: first.entitlement,
      });
    } finally {
      await plain.close();
    }
  });
});
