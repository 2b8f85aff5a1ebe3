import http from 'node:http';
import { Agent, fetch as undiciFetch } from 'undici';

/** A plain HTTP caller for tests: real requests, answers kept whole for assertions. */
export interface Answer<T = any> {
  status: number;
  headers: { get(name: string): string | null };
  body: T;
  /** The body exactly as it came over the wire. */
  text: string;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
    /**
     * Connections belong to one gateway process; a restart swaps them (no stale keep-alive socket).
     * An idle one is closed after a second, well before the gateway's 5 s keep-alive ends: a request
     * written on a socket the server is closing at that moment is reset, and a test stalled for a
     * moment (CI runs several files at once) must not meet that race.
     */
    private readonly pool: { agent: Agent } = { agent: new Agent({ connections: 256, keepAliveMaxTimeout: 1_000 }) },
  ) {}

  as(token: string): Api {
    return new Api(this.baseUrl, token, this.pool);
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await undiciFetch(new URL(path, this.baseUrl), { method, headers: h, body: payload, dispatcher: this.pool.agent });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const parsed = type.includes('json') && text ? JSON.parse(text) : text;
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body ?? {}, headers);
  }
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, body ?? {}, headers);
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }
}

/** Fails the test with the whole answer when the status is not the expected one. */
export function expectStatus<T>(answer: Answer<T>, status: number): T {
  if (answer.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/** One request of a `simultaneously` burst, made with `api`'s credentials. */
export interface BurstRequest {
  api: Api;
  method: string;
  path: string;
  body?: unknown;
  /** More headers (an Idempotency-Key). */
  headers?: Record<string, string>;
}

/**
 * Requests written to the gateway in the same event-loop turn, each on a keep-alive connection of
 * its own opened beforehand (by concurrent `GET /healthz`), so that they reach the gateway
 * together: the "simultaneous requests" of R7. Through undici's fetch a burst leaves about one
 * request per millisecond when the gateway runs in the test's own process, and the first would
 * often be answered before the last was sent. Answers in the order of `requests`.
 */
export async function simultaneously<T = any>(requests: readonly BurstRequest[]): Promise<Answer<T>[]> {
  const n = requests.length;
  const agent = new http.Agent({ keepAlive: true, maxSockets: n, maxFreeSockets: n });
  const send = (base: string, method: string, path: string, headers: Record<string, string>, payload?: string) =>
    new Promise<Answer<T>>((resolve, reject) => {
      const req = http.request(new URL(path, base), { method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const type = String(res.headers['content-type'] ?? '');
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name: string) => (res.headers[name.toLowerCase()] as string | undefined) ?? null },
            body: (type.includes('json') && text ? JSON.parse(text) : text) as T,
            text,
          });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  try {
    await Promise.all(requests.map((r) => send(r.api.baseUrl, 'GET', '/healthz', {})));
    const prepared = requests.map((r) => {
      const headers: Record<string, string> = { ...r.headers };
      if (r.api.token) headers.authorization = `Bearer ${r.api.token}`;
      const payload = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      if (payload !== undefined) {
        headers['content-type'] ??= 'application/json';
        headers['content-length'] = String(Buffer.byteLength(payload));
      }
      return { r, headers, payload };
    });
    // One synchronous loop: every request is on its socket before the gateway reads any of them.
    const sent = prepared.map(({ r, headers, payload }) => send(r.api.baseUrl, r.method, r.path, headers, payload));
    return await Promise.all(sent);
  } finally {
    agent.destroy();
  }
}
