import { normalAutodeskId } from '@flexgate/shared';
import type { Context, MiddlewareHandler } from 'hono';
import type { Metrics } from '../lib/metrics';
import type { AppEnv } from './env';
import { type ProblemParts, problemParts, toResponse } from './problem';

/**
 * In-memory token buckets, one map per limit, keyed by user or peer address. Each gateway process
 * (or cluster worker) counts on its own: with N instances behind a balancer a client gets up to N
 * times the limit, which is still far below what guessing passwords needs. Time is the real
 * monotonic clock, never the test clock (which jumps days).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private calls = 0;

  constructor(
    /** Burst size, and the tokens refilled evenly over `periodMs`. */
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    /** Past this many keys, full buckets are dropped (they carry no information). */
    private readonly maxKeys = 100_000,
    /** A minute for the request limits; an hour for bulk invitation sends. */
    periodMs = 60_000,
  ) {
    this.perMs = burst / periodMs;
  }

  /** The key's bucket refilled up to now (a new key's is full). */
  private bucket(key: string): { tokens: number; at: number } {
    const now = this.now();
    if (++this.calls % 1024 === 0 && this.buckets.size > this.maxKeys) this.prune(now);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    return b;
  }

  /** Takes `n` tokens (one by default); returns 0 when allowed, else the seconds until `n` are available (nothing taken). */
  take(key: string, n = 1): number {
    const b = this.bucket(key);
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((n - b.tokens) / this.perMs / 1000));
  }

  /** The whole tokens the key holds now: what `take` would grant at once. */
  available(key: string): number {
    return Math.floor(this.bucket(key).tokens);
  }

  /** Puts back tokens taken and not used (a send that found less to do, or failed), never past the burst size. */
  giveBack(key: string, n: number): void {
    if (n <= 0) return;
    const b = this.bucket(key);
    b.tokens = Math.min(this.burst, b.tokens + n);
  }

  /** The seconds until the key holds one token; 0 when it holds one now. */
  wait(key: string): number {
    const b = this.bucket(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(k);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** The peer address of the TCP connection (no X-Forwarded-For: a client could forge it). */
export function peerAddress(c: Pick<Context, 'env'>): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

export interface LimitOptions {
  /** The name in metrics and in the refusal. */
  name: string;
  buckets: TokenBuckets;
  /** The bucket key for this request, or null when this limit does not apply to it. */
  key: (c: Context<AppEnv>) => string | null | Promise<string | null>;
  metrics: Metrics;
  /** Counted as a launch refusal too (flexgate_launch_refusals_total). */
  launch?: boolean;
}

/**
 * A limit taken by a handler that words its own refusal (a console page): 0 when allowed, else the
 * seconds to wait, counted in metrics as the middleware's refusals are.
 */
export function takeLimit(o: Pick<LimitOptions, 'name' | 'buckets' | 'metrics'>, key: string): number {
  const wait = o.buckets.take(key);
  if (wait > 0) o.metrics.rateLimited.inc({ limit: o.name });
  return wait;
}

/** 429 problem+json with Retry-After once the key's bucket is empty. */
export function rateLimit(o: LimitOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = await o.key(c);
    if (key !== null) {
      const wait = o.buckets.take(key);
      if (wait > 0) return toResponse(limitedParts(c.get('requestId'), o, wait));
    }
    return next();
  };
}

/** The 429 of a limit, counted in metrics; shared with the launch lane. */
export function limitedParts(
  requestId: string | undefined,
  o: Pick<LimitOptions, 'name' | 'metrics' | 'launch'>,
  wait: number,
): ProblemParts {
  o.metrics.rateLimited.inc({ limit: o.name });
  if (o.launch) o.metrics.refusals.inc({ code: 'too-many-requests' });
  const p = problemParts(requestId, 'too-many-requests', `Too many requests (${o.name}); retry in ${wait} s.`);
  p.headers['retry-after'] = String(wait);
  return p;
}

/**
 * The Autodesk ID a sign-in is for, read from the body: Hono caches the parsed body, so the route's
 * validator reads it again for free. A body that does not parse is left to the validator (400).
 */
export async function signInSubject(c: Context<AppEnv>): Promise<string | null> {
  try {
    const body: unknown = await c.req.json();
    if (body && typeof body === 'object' && 'autodeskId' in body && typeof body.autodeskId === 'string') {
      return normalAutodeskId(body.autodeskId).slice(0, 254);
    }
  } catch {
    /* not JSON: the route answers 400 */
  }
  return null;
}

/** The admin adding an existing account by Autodesk ID (an invitation by e-mail tells nothing), or null. */
export async function accountLookup(c: Context<AppEnv>): Promise<string | null> {
  const p = c.get('principal');
  if (c.req.method !== 'POST' || p?.kind !== 'admin') return null;
  try {
    const body: unknown = await c.req.json();
    if (body && typeof body === 'object' && 'autodeskId' in body && !('invite' in body)) return p.id;
  } catch {
    /* not JSON: the route answers 400 */
  }
  return null;
}
