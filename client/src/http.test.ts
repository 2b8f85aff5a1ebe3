import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, createHttp, DEFAULT_RETRY, GatewayUnreachableError, type Http, isTransientError } from './http';
import { sendJson, startServer, type TestServer } from './testing/keys';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

interface Seen {
  key: string | undefined;
  sockets: Set<unknown>;
}

/** A server whose first `failures` answers go wrong in the given way, then it answers 200. */
async function flaky(
  failures: number,
  fail: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: TestServer; seen: Seen[] }> {
  const seen: Seen[] = [];
  const sockets = new Set<unknown>();
  const server = await startServer((req, res) => {
    sockets.add(req.socket);
    seen.push({ key: req.headers['idempotency-key'] as string | undefined, sockets });
    req.resume();
    req.on('end', () => {
      if (seen.length <= failures) fail(req, res);
      else sendJson(res, 200, { ok: true, n: seen.length });
    });
  });
  open.push(server);
  return { server, seen };
}

function client(url: string, opts: Parameters<typeof createHttp>[1] = {}): { http: Http; delays: number[] } {
  const delays: number[] = [];
  const http = createHttp(url, {
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...opts,
  });
  open.push(http);
  return { http, delays };
}

describe('retries', () => {
  it('retries 502/503/504 with the same Idempotency-Key until an answer', async () => {
    const codes = [502, 503, 504];
    const { server, seen } = await flaky(3, (_req, res) => sendJson(res, codes[seen.length - 1] ?? 503, {}));
    const { http, delays } = client(server.url);
    const res = await http.request({ method: 'POST', path: '/v1/launch', body: { product: 'autocad' }, idempotencyKey: 'k-1' });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(4);
    expect(seen.map((s) => s.key)).toEqual(['k-1', 'k-1', 'k-1', 'k-1']);
    expect(delays).toHaveLength(3);
  });

  it('retries when the connection drops before the answer (the answer was lost)', async () => {
    const { server, seen } = await flaky(1, (req) => req.socket.destroy());
    const { http } = client(server.url);
    const res = await http.request({ method: 'POST', path: '/v1/launch', body: {}, idempotencyKey: 'k-2' });
    expect(res.status).toBe(200);
    expect(seen.map((s) => s.key)).toEqual(['k-2', 'k-2']);
  });

  it('retries a try that times out', async () => {
    const { server, seen } = await flaky(1, () => {
      // never answers
    });
    // Long enough that the answered try is never cut short on a loaded machine (150 ms was, once).
    const { http } = client(server.url, { timeoutMs: 1_000 });
    const res = await http.request({ method: 'POST', path: '/x', body: {}, idempotencyKey: 'k-3' });
    expect(res.status).toBe(200);
    expect(seen.map((s) => s.key)).toEqual(['k-3', 'k-3']);
  });

  it('never retries a 4xx, and returns 500 as an answer', async () => {
    for (const status of [400, 401, 403, 404, 409, 429, 500]) {
      const { server, seen } = await flaky(1, (_req, res) =>
        sendJson(res, status, { code: 'x', status, detail: 'no' }, 'application/problem+json'),
      );
      const { http, delays } = client(server.url);
      const res = await http.request({ method: 'POST', path: '/v1/launch', body: {} });
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ detail: 'no' });
      expect(seen).toHaveLength(1);
      expect(delays).toHaveLength(0);
    }
  });

  it('gives up on a refused connection after the policy, as unreachable', async () => {
    const { server } = await flaky(0, () => {});
    const url = server.url;
    await server.close();
    open.pop();
    const { http, delays } = client(url);
    const err = await http.request({ method: 'GET', path: '/healthz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayUnreachableError);
    expect((err as GatewayUnreachableError).attempts).toBe(4);
    expect((err as GatewayUnreachableError).message).toBe(`The gateway at ${url} could not be reached (ECONNREFUSED, 4 tries).`);
    expect(delays).toHaveLength(3);
    const once = createHttp(url, { retry: { attempts: 1 } });
    open.push(once);
    const first = await once.request({ method: 'GET', path: '/healthz' }).catch((e: unknown) => e);
    expect((first as GatewayUnreachableError).message).toBe(`The gateway at ${url} could not be reached (ECONNREFUSED, 1 try).`);
  });

  it('reports persistent 503 as unreachable, honouring Retry-After within the cap', async () => {
    const { server, seen } = await flaky(99, (_req, res) => {
      res.writeHead(503, { 'retry-after': '1' });
      res.end();
    });
    const { http, delays } = client(server.url);
    const err = await http.request({ method: 'GET', path: '/' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayUnreachableError);
    expect((err as GatewayUnreachableError).lastStatus).toBe(503);
    expect(seen).toHaveLength(4);
    expect(delays).toEqual([50, 50, 50]);
  });

  it('keeps connections alive between calls', async () => {
    const { server, seen } = await flaky(0, () => {});
    const { http } = client(server.url);
    for (let i = 0; i < 10; i++) await http.request({ method: 'GET', path: '/' });
    // The pool may alternate between two idle sockets, but it does not open one per call.
    expect(seen[0]?.sockets.size).toBeLessThanOrEqual(2);
  });
});

describe('isTransientError', () => {
  const failure = (code: string, cause?: unknown) => Object.assign(new Error(`failed: ${code}`), { code }, cause ? { cause } : {});

  it("retries what the network did (a dropped or refused connection, a timeout), here or as the error's cause", () => {
    expect(isTransientError(failure('ECONNRESET'))).toBe(true);
    expect(isTransientError(new TypeError('fetch failed', { cause: failure('ECONNREFUSED') }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('slow'), { name: 'TimeoutError' }))).toBe(true);
  });

  it('does not retry what another try cannot mend: a wrong name or address, a bad certificate, a bug', () => {
    for (const code of ['ENOTFOUND', 'ERR_INVALID_URL', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      expect(isTransientError(failure(code)), code).toBe(false);
    }
    expect(isTransientError(new TypeError('x is not a function'))).toBe(false);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially under a cap, with full jitter', () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0.999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, policy);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(400);
    }
  });
});
