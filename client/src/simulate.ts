import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT_KEY_PATH } from '@flexgate/shared';
import { createClient, type FlexgateClient, refusalFrom } from './client';
import { createHttp, type Http } from './http';
import { FlexgateError, type RefusalCode } from './types';
import type { TrustRoot } from './verify';

export interface SimulateOptions {
  gatewayUrl: string;
  /** The gateway's root key; absent, the one the gateway shows (a load generator trusts the gateway it drives). */
  trust?: TrustRoot;
  users: number;
  /** Launches per simulated user. */
  launches: number;
  concurrency: number;
  products?: string[];
  password: string;
  prefix: string;
  /** Create a team with tokens and the users first (operator key required). */
  setup?: { operatorKey: string; tokens: number };
  useCache: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SimulateSummary {
  users: number;
  launches: number;
  granted: number;
  fromCache: number;
  sources: Record<string, number>;
  tokensCharged: number;
  refusals: Partial<Record<RefusalCode, number>>;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  durationMs: number;
  launchesPerSec: number;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

/** Makes a team with `tokens` and the users as its members; answers the team's id. */
async function setUp(http: Http, opts: SimulateOptions, ids: string[], operatorKey: string, tokens: number): Promise<string> {
  const post = async (path: string, body: unknown, okStatuses: number[] = [200, 201]) => {
    const res = await http.request({ method: 'POST', path, body, token: operatorKey });
    // 409: left over from an earlier run with the same prefix, which is fine to reuse.
    if (!okStatuses.includes(res.status) && res.status !== 409) {
      // A refusal (a wrong operator key, say) in the gateway's own words: exit 3 as any refusal.
      const refusal = refusalFrom(res);
      throw new FlexgateError(refusal.code, `setup ${path} was refused (${res.status}): ${refusal.reason}`, res.status);
    }
    return res.body as Record<string, unknown>;
  };
  const team = await post('/v1/teams', { name: `${opts.prefix} fleet ${new Date().toISOString()}` });
  const teamId = String(team.id);
  await post(`/v1/teams/${teamId}/purchases`, { tokens });
  for (const [i, autodeskId] of ids.entries()) {
    await post('/v1/users', { autodeskId, name: `Simulated User ${i + 1}`, password: opts.password });
    await post(`/v1/teams/${teamId}/members`, { autodeskId, allProducts: true });
    // A person joins a team only by accepting its invitation: each simulated user accepts theirs,
    // with the token of the e-mail the outbox still holds (no SMTP in a simulation).
    const outbox = await http.request({ method: 'GET', path: `/v1/outbox?to=${encodeURIComponent(autodeskId)}`, token: operatorKey });
    const mails = Array.isArray(outbox.body) ? (outbox.body as { kind: string; text: string }[]) : [];
    const token = invitationToken(mails.filter((m) => m.kind === 'invitation').at(-1)?.text ?? '');
    if (token) await post('/v1/invitations/accept', { token, password: opts.password });
  }
  return teamId;
}

/** The token of an invitation e-mail: the `token` parameter of its accept page link. */
export function invitationToken(text: string): string | null {
  const m = /^Link: \S*[?&]token=([^&\s]+)$/m.exec(text);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

async function shownRoot(http: Http): Promise<TrustRoot> {
  const res = await http.request({ method: 'GET', path: ROOT_KEY_PATH });
  if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) {
    throw new FlexgateError('untrusted-gateway', `The gateway shows no root key (${ROOT_KEY_PATH} answered ${res.status}).`);
  }
  return res.body as TrustRoot;
}

export async function simulate(opts: SimulateOptions): Promise<SimulateSummary> {
  const http = createHttp(opts.gatewayUrl, { connections: opts.concurrency });
  const root = await mkdtemp(join(tmpdir(), 'flexgate-sim-'));
  const ids = Array.from({ length: opts.users }, (_, i) => `${opts.prefix}-${i + 1}@simulated.example`);
  try {
    // Users kept from an earlier run with the same prefix are members of its team too: the
    // launches name this run's team, as a member of several teams must.
    const team = opts.setup ? await setUp(http, opts, ids, opts.setup.operatorKey, opts.setup.tokens) : undefined;
    const trust = opts.trust ?? (await shownRoot(http));
    let products = opts.products;
    const clients: FlexgateClient[] = [];
    for (const [i, id] of ids.entries()) {
      const client = createClient({
        gatewayUrl: opts.gatewayUrl,
        trust,
        cacheDir: join(root, String(i)),
        httpClient: http,
        machine: `sim-${i + 1}`,
      });
      await client.signIn(id, opts.password);
      clients.push(client);
    }
    if (!products || products.length === 0) {
      const first = clients[0];
      products = first ? (await first.catalog()).map((p) => p.key) : [];
    }
    if (products.length === 0) throw new Error('no products to launch: the catalog is empty');

    const tasks: { client: FlexgateClient; product: string }[] = [];
    for (let round = 0; round < opts.launches; round++) {
      for (const [i, client] of clients.entries()) {
        tasks.push({ client, product: products[(i + round) % products.length] as string });
      }
    }
    const latencies: number[] = [];
    const summary: SimulateSummary = {
      users: opts.users,
      launches: tasks.length,
      granted: 0,
      fromCache: 0,
      sources: {},
      tokensCharged: 0,
      refusals: {},
      latencyMs: { p50: 0, p95: 0, p99: 0, max: 0 },
      durationMs: 0,
      launchesPerSec: 0,
    };
    let next = 0;
    let done = 0;
    const started = performance.now();
    const worker = async () => {
      for (let task = tasks[next++]; task; task = tasks[next++]) {
        const t0 = performance.now();
        const result = await task.client.launch(task.product, { fresh: !opts.useCache, ...(team !== undefined && { team }) });
        latencies.push(performance.now() - t0);
        if (result.granted) {
          summary.granted++;
          if (result.fromCache) summary.fromCache++;
          const source = result.provisional ? 'provisional' : result.source;
          summary.sources[source] = (summary.sources[source] ?? 0) + 1;
          summary.tokensCharged += result.charged;
        } else {
          summary.refusals[result.code] = (summary.refusals[result.code] ?? 0) + 1;
        }
        opts.onProgress?.(++done, tasks.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, tasks.length) }, worker));
    summary.durationMs = Math.round(performance.now() - started);
    latencies.sort((a, b) => a - b);
    const round2 = (n: number) => Math.round(n * 100) / 100;
    summary.latencyMs = {
      p50: round2(percentile(latencies, 50)),
      p95: round2(percentile(latencies, 95)),
      p99: round2(percentile(latencies, 99)),
      max: round2(latencies.at(-1) ?? 0),
    };
    summary.launchesPerSec = summary.durationMs > 0 ? Math.round((tasks.length * 1000) / summary.durationMs) : 0;
    return summary;
  } finally {
    await http.close();
    await rm(root, { recursive: true, force: true });
  }
}
