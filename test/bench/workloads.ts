import type { Request } from './load';

/**
 * What `pnpm bench` sends, as data rather than closures, so that the load generator can run in a
 * process of its own (load-child.ts) and build each request there.
 */
export type Workload =
  /** The same request every time (the baseline, /healthz). */
  | { kind: 'fixed'; request: Request }
  /** Relaunches: a random warm user and that user's product (its session is open). */
  | { kind: 'warm'; launches: Launches }
  /** First launches: each (cold user, product) pair once, so every launch opens a session and charges. */
  | { kind: 'cold'; launches: Launches }
  /** The given requests in turn (refusals). */
  | { kind: 'cycle'; requests: Request[] }
  /** Of every 20 requests: 1 cold launch, 1 admin read (from `admin`, in turn), 18 warm launches. */
  | { kind: 'mixed'; warm: Launches; cold: Launches; admin: Request[] };

export interface Launches {
  tokens: string[];
  products: string[];
}

export function launchRequest(token: string, product: string): Request {
  return {
    method: 'POST',
    path: '/v1/launch',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ product }),
    expect: [200],
  };
}

/** The request generator a workload describes; each call is one request, cold pairs never repeat. */
export function requestsOf(w: Workload): (i: number) => Request {
  const pick = <T>(xs: T[], i: number) => xs[i % xs.length] as T;
  const warm = (l: Launches) => () => {
    const u = Math.floor(Math.random() * l.tokens.length);
    return launchRequest(l.tokens[u] as string, pick(l.products, u));
  };
  const cold = (l: Launches) => {
    let k = 0;
    return () => {
      const n = k++;
      if (n >= l.tokens.length * l.products.length)
        throw new Error('cold pairs exhausted: lower --seconds or seed more cold users (fleet.ts)');
      return launchRequest(l.tokens[n % l.tokens.length] as string, pick(l.products, Math.floor(n / l.tokens.length)));
    };
  };
  switch (w.kind) {
    case 'fixed':
      return () => w.request;
    case 'warm':
      return warm(w.launches);
    case 'cold':
      return cold(w.launches);
    case 'cycle':
      return (i) => pick(w.requests, i);
    case 'mixed': {
      const [hot, first] = [warm(w.warm), cold(w.cold)];
      let reads = 0;
      return (i) => {
        const r = i % 20;
        return r === 0 ? first() : r === 1 ? pick(w.admin, reads++) : hot();
      };
    }
  }
}
