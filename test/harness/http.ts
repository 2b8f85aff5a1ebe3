import { Agent, fetch as undiciFetch } from 'undici';

/** A plain HTTP caller for tests: real requests, answers kept whole for assertions. */
export interface Answer<T = any> {
  status: number;
  headers: { get(name: string): string | null };
  body: T;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
    /** Connections belong to one gateway process; a restart swaps them (no stale keep-alive socket). */
    private readonly pool: { agent: Agent } = { agent: new Agent({ connections: 256 }) },
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
    return { status: res.status, headers: res.headers, body: parsed as T };
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
