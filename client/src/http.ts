import { Pool } from 'undici';

/** How hard the client tries before it calls the gateway unreachable. */
export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface HttpOptions {
  /** Per-try budget: connecting, sending, waiting for headers and reading the body. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Sockets kept open to the gateway; the simulator raises it to its concurrency. */
  connections?: number;
  /** Injected for tests: jitter source in [0, 1). */
  random?: () => number;
  /** Injected for tests: how to wait between tries. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** Bearer token (an ID token, an admin or operator key). */
  token?: string;
  /** Sent unchanged on every try so the gateway can answer a retried POST from its first result. */
  idempotencyKey?: string;
  timeoutMs?: number;
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: unknown;
  attempts: number;
}

/** No answer worth believing: every try failed on the network, timed out, or got 502/503/504. */
export class GatewayUnreachableError extends Error {
  override readonly name = 'GatewayUnreachableError';
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastStatus: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 3_000 };
export const DEFAULT_TIMEOUT_MS = 5_000;

const RETRY_STATUSES = new Set([502, 503, 504]);
const RETRY_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Full jitter (AWS architecture blog): a random wait in [0, min(max, base * 2^n)], so a fleet
 * of clients that lost the gateway together do not all come back in the same millisecond.
 */
export function backoffDelay(retryIndex: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}

export function isTransientError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    if (typeof e !== 'object') return false;
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && RETRY_ERROR_CODES.has(code)) return true;
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUSES.has(status);
}

function retryAfterMs(headers: HttpResponse['headers']): number | null {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

export interface Http {
  readonly baseUrl: string;
  request(options: RequestOptions): Promise<HttpResponse>;
  close(): Promise<void>;
}

export function createHttp(baseUrl: string, options: HttpOptions = {}): Http {
  const url = new URL(baseUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pool = new Pool(url.origin, {
    connections: options.connections ?? 8,
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  async function once(req: RequestOptions): Promise<Omit<HttpResponse, 'attempts'>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (req.token) headers.authorization = `Bearer ${req.token}`;
    if (req.idempotencyKey) headers['idempotency-key'] = req.idempotencyKey;
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const budget = req.timeoutMs ?? timeoutMs;
    const res = await pool.request({
      method: req.method,
      path: basePath + req.path,
      headers,
      body: payload,
      // The pool's timeouts bound each phase; this bounds the whole try.
      signal: AbortSignal.timeout(budget),
      headersTimeout: budget,
      bodyTimeout: budget,
    });
    // Always drain the body so the keep-alive socket goes back to the pool.
    const text = await res.body.text();
    const type = String(res.headers['content-type'] ?? '');
    let body: unknown = text;
    if (type.includes('json') && text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.statusCode, headers: res.headers, body };
  }

  return {
    baseUrl,
    async request(req) {
      const attempts = req.retry === false ? 1 : Math.max(1, policy.attempts);
      let lastError: unknown = null;
      let lastStatus: number | null = null;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        let minDelay = 0;
        try {
          const res = await once(req);
          // 4xx and other answers are the gateway's decision: retrying cannot change them.
          if (!isRetryableStatus(res.status)) return { ...res, attempts: attempt };
          lastStatus = res.status;
          lastError = null;
          minDelay = retryAfterMs(res.headers) ?? 0;
        } catch (err) {
          if (!isTransientError(err)) throw err;
          lastError = err;
          lastStatus = null;
        }
        if (attempt < attempts) {
          await sleep(Math.min(policy.maxDelayMs, Math.max(minDelay, backoffDelay(attempt - 1, policy, random))));
        }
      }
      const why = lastStatus !== null ? `answered ${lastStatus}` : describeError(lastError);
      throw new GatewayUnreachableError(
        `The gateway at ${baseUrl} could not be reached (${why}, ${attempts} ${attempts === 1 ? 'try' : 'tries'}).`,
        attempts,
        lastStatus,
        { cause: lastError ?? undefined },
      );
    },
    close: () => pool.close(),
  };
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    if (typeof message === 'string') return message;
  }
  return String(err);
}
