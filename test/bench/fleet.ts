import { Pool } from 'undici';

/** Seeding through the real API, in parallel batches; returns what the workloads need. */
export interface Fleet {
  /** The first team: warm and refused users, and the cold users of every `teams[i]`, i % teams.length = 0. */
  team: string;
  /** Every team: cold user i is a member of teams[i % teams.length] (one team unless --teams N). */
  teams: string[];
  adminKey: string;
  products: { key: string; dailyRate: number }[];
  /** ID tokens: warm users keep a session of their own product open; cold users open new ones. */
  warm: string[];
  cold: string[];
  refused: string[];
}

export async function api(origin: string, token: string | null, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * A person joins a team by accepting its invitation: the token of the e-mail the outbox holds.
 * No invitation: a gateway from before consent (an A/B run's older side) made the member at once.
 */
export async function acceptInvitation(origin: string, operatorKey: string, autodeskId: string, password: string): Promise<void> {
  const mails = (await api(origin, operatorKey, 'GET', `/v1/outbox?to=${encodeURIComponent(autodeskId)}`)) as { text: string }[];
  const link = /^Link: (\S+)$/m.exec(mails.at(-1)?.text ?? '')?.[1];
  if (!link) return;
  await api(origin, null, 'POST', '/v1/invitations/accept', { token: new URL(link).searchParams.get('token'), password });
}

async function inBatches<T>(items: T[], size: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((it, j) => fn(it, i + j)));
}

export async function seedFleet(
  origin: string,
  operatorKey: string,
  sizes = { warm: 1000, cold: 8000, refused: 200 },
  teamCount = 1,
): Promise<Fleet> {
  const products = Array.from({ length: 10 }, (_, i) => ({ key: `product-${i}`, name: `Product ${i}`, dailyRate: 3 + i }));
  for (const p of products) await api(origin, operatorKey, 'POST', '/v1/products', p);
  const teams: string[] = [];
  for (let t = 0; t < teamCount; t++) {
    const id = (await api(origin, operatorKey, 'POST', '/v1/teams', { name: t === 0 ? 'Bench Fleet' : `Bench Fleet ${t + 1}` }))
      .id as string;
    for (const tokens of [200_000_000, 300_000_000, 400_000_000]) {
      await api(origin, operatorKey, 'POST', `/v1/teams/${id}/purchases`, { tokens });
    }
    teams.push(id);
  }
  const team = teams[0] as string;
  const adminKey = (await api(origin, operatorKey, 'POST', '/v1/admins', { name: 'Bench Admin', email: 'bench-admin@example.com', teams }))
    .key as string;
  const make = async (group: string, n: number, body: (id: string) => object, teamOf: (i: number) => string = () => team) => {
    const tokens: string[] = new Array(n);
    await inBatches(
      Array.from({ length: n }, (_, i) => i),
      32,
      async (i) => {
        const autodeskId = `${group}-${i}@bench.example.com`;
        const password = 'bench-password';
        await api(origin, operatorKey, 'POST', '/v1/users', { autodeskId, name: `${group} ${i}`, password });
        await api(origin, operatorKey, 'POST', `/v1/teams/${teamOf(i)}/members`, body(autodeskId));
        await acceptInvitation(origin, operatorKey, autodeskId, password);
        tokens[i] = (await api(origin, null, 'POST', '/v1/signin', { autodeskId, password })).token;
      },
    );
    return tokens;
  };
  const warm = await make('warm', sizes.warm, (autodeskId) => ({ autodeskId, allProducts: true }));
  const cold = await make(
    'cold',
    sizes.cold,
    (autodeskId) => ({ autodeskId, allProducts: true }),
    (i) => teams[i % teams.length] as string,
  );
  const refused = await make('refused', sizes.refused, (autodeskId) => ({ autodeskId, products: ['product-0'] }));
  return { team, teams, adminKey, products, warm, cold, refused };
}

/** Opens the session of every warm user's own product, so warm launches find it open. */
/**
 * Makes the gateway at `origin` verify each of `tokens` once (`GET /v1/me/products`, which writes
 * nothing), so that every instance starts a run knowing the same ID tokens: otherwise the first
 * instance, which ran the one-instance reps, knows them and the others verify each on first sight.
 */
export async function knowTokens(origin: string, tokens: readonly string[]): Promise<void> {
  const pool = new Pool(origin, { connections: 16 });
  await inBatches([...tokens], 16, async (token) => {
    const res = await pool.request({ method: 'GET', path: '/v1/me/products', headers: { authorization: `Bearer ${token}` } });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`GET /v1/me/products: ${res.statusCode}`);
  });
  await pool.close();
}

export async function prewarm(origin: string, fleet: Fleet): Promise<void> {
  const pool = new Pool(origin, { connections: 16 });
  await inBatches(fleet.warm, 16, async (token, i) => {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/launch',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ product: fleet.products[i % 10]?.key }),
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`prewarm launch: ${res.statusCode}`);
  });
  await pool.close();
}
