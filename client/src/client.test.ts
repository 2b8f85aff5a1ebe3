import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entitlementFile } from './cache';
import { createClient, type FlexgateClient } from './client';
import { runProduct } from './running';
import { makeKey } from './testing/keys';
import { type StubGateway, startStubGateway } from './testing/stub-gateway';
import type { LaunchResult } from './types';

const t0 = new Date('2026-03-15T10:00:00Z');
const HOUR = 3600_000;
let now: Date;
let gateway: StubGateway;
let dir: string;
let client: FlexgateClient;

function newClient(extra: Partial<Parameters<typeof createClient>[0]> = {}): FlexgateClient {
  return createClient({
    gatewayUrl: gateway.url,
    trust: gateway.root.thumbprint,
    cacheDir: dir,
    clock: () => now,
    // Time passes only when a test moves `now`.
    monotonic: () => 0,
    machine: 'test-box',
    http: { timeoutMs: 1000, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } },
    ...extra,
  });
}

beforeEach(async () => {
  now = t0;
  gateway = await startStubGateway(() => now);
  dir = await mkdtemp(join(tmpdir(), 'flexgate-client-'));
  client = newClient();
});
afterEach(async () => {
  await client.close();
  await gateway.stop();
  await rm(dir, { recursive: true, force: true });
});

const later = (ms: number) => {
  now = new Date(now.getTime() + ms);
};
function granted(result: LaunchResult) {
  if (!result.granted) throw new Error(`refused: ${result.code} ${result.reason}`);
  return result;
}

describe('launch', () => {
  it('refuses before sign-in, and a wrong password is unauthorized', async () => {
    expect(await client.launch('autocad')).toMatchObject({ granted: false, code: 'unauthorized' });
    await expect(client.signIn('ada@example.com', 'wrong')).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('grants from the gateway, then relaunches from the cache with no network at all', async () => {
    await client.signIn('Ada@Example.com', 'correct horse');
    const first = granted(await client.launch('autocad'));
    expect(first).toMatchObject({ provisional: false, source: 'flex', charged: 7, fromCache: false, team: 'team-1' });
    expect(first.claims?.sub).toBe('ada@example.com');
    expect(first.sessionEnd).toBe('2026-03-16T10:00:00.000Z');
    const launchPost = gateway.requests.find((r) => r.path === '/v1/launch');
    expect(launchPost?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(launchPost?.body).toEqual({ product: 'autocad', machine: 'test-box' });

    await gateway.stop();
    const count = gateway.requests.length;
    const again = granted(await client.launch('autocad'));
    expect(again).toMatchObject({ fromCache: true, charged: 0, sessionEnd: first.sessionEnd });
    expect(gateway.requests.length).toBe(count);
    expect(gateway.charges).toHaveLength(1);
  });

  it('shows a cached session only when the signed entitlement names it: an edited file changes nothing shown', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const first = granted(await client.launch('autocad'));
    const path = join(dir, entitlementFile('ada@example.com', 'autocad'));
    const record = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...record, session: { ...record.session, id: 'another', endsAt: '2099-01-01T00:00:00.000Z' } }));
    expect(granted(await client.launch('autocad'))).toMatchObject({ fromCache: true, session: null, sessionEnd: null });
    await writeFile(path, JSON.stringify(record));
    expect(granted(await client.launch('autocad'))).toMatchObject({ fromCache: true, sessionEnd: first.sessionEnd });
  });

  it('a fresh launch the gateway cannot answer falls back to the cached entitlement, not to a provisional slot', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const first = granted(await client.launch('autocad'));
    await gateway.stop();
    expect(granted(await client.launch('autocad', { fresh: true }))).toMatchObject({
      provisional: false,
      fromCache: true,
      session: first.session,
    });
    expect((await client.whoami()).provisional).toEqual([]);
  });

  it('a sign-in kept for another gateway is not used: its token is never sent there', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const other = await startStubGateway(() => now);
    const elsewhere = newClient({ gatewayUrl: other.url, trust: other.root.thumbprint });
    try {
      expect(await elsewhere.launch('autocad')).toMatchObject({ granted: false, code: 'unauthorized' });
      await expect(elsewhere.products()).rejects.toMatchObject({ code: 'unauthorized' });
      expect(other.requests.filter((r) => r.path.startsWith('/v1/'))).toEqual([]);
      expect((await elsewhere.whoami()).signedIn).toBe(false);
    } finally {
      await elsewhere.close();
      await other.stop();
    }
  });

  it('passes the gateway refusal through with its sentence', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    expect(await client.launch('nope')).toMatchObject({
      granted: false,
      code: 'unknown-product',
      reason: 'There is no product "nope".',
      status: 404,
    });
  });

  it('names a refusal by its HTTP status when something in front of the gateway answers with a page of its own', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const codes = {
      400: 'invalid-request',
      401: 'unauthorized',
      403: 'forbidden',
      404: 'not-found',
      429: 'too-many-requests',
      500: 'internal-error',
    };
    for (const [status, code] of Object.entries(codes)) {
      gateway.plainLaunchStatus = Number(status);
      expect(await client.launch('autocad', { fresh: true }), status).toEqual({
        granted: false,
        code,
        reason: `The gateway answered HTTP ${status}.`,
        status: Number(status),
      });
    }
  });

  it('charges once when the first answer is lost: the retry carries the same Idempotency-Key', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    gateway.dropNextLaunchAnswers = 1;
    const result = granted(await client.launch('autocad'));
    expect(result.charged).toBe(7);
    const launches = gateway.requests.filter((r) => r.path === '/v1/launch');
    expect(launches).toHaveLength(2);
    expect(launches[0]?.idempotencyKey).toBe(launches[1]?.idempotencyKey);
    expect(gateway.charges).toHaveLength(1);
  });

  it('refuses an entitlement the gateway did not sign, and does not cache it', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    gateway.signWith = await makeKey(gateway.key.kid);
    expect(await client.launch('autocad')).toMatchObject({ granted: false, code: 'invalid-entitlement' });
    gateway.signWith = null;
    await gateway.stop();
    // Nothing cached: offline, the allowance's provisional launch at most.
    const offline = await client.launch('autocad');
    expect(offline.granted && !offline.provisional).toBe(false);
    expect((await client.whoami()).entitlements).toEqual([]);
  });

  it('never uses an expired cached entitlement offline, and a clock wound back does not revive it', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    granted(await client.launch('autocad'));
    await gateway.stop();
    later(HOUR + 31_000);
    const offline = await client.launch('autocad', { team: 'team-1' });
    // Not the expired entitlement: a provisional launch (tested below) at best.
    expect(offline.granted && !offline.provisional).toBe(false);
    now = t0;
    const rewound = await client.launch('autocad');
    expect(rewound.granted && !rewound.provisional).toBe(false);
  });
});

describe('provisional launches during an outage', () => {
  const allowanceRequests = () => gateway.requests.filter((r) => r.path === '/v1/offline-allowance');
  const reports = () => gateway.requests.filter((r) => (r.body as { provisional?: unknown } | undefined)?.provisional);

  it('asks for an allowance at sign-in, and again after a launch only once it is an hour old', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    expect(allowanceRequests()).toHaveLength(1);
    expect(allowanceRequests()[0]?.body).toEqual({ machine: 'test-box' });
    granted(await client.launch('autocad'));
    granted(await client.launch('autocad', { fresh: true }));
    expect(allowanceRequests()).toHaveLength(1);
    later(HOUR);
    granted(await client.launch('autocad', { fresh: true }));
    expect(allowanceRequests()).toHaveLength(2);
    expect((await client.whoami()).offlineAllowance).toMatchObject({ launches: 3, products: [{ product: 'autocad', team: 'team-1' }] });
  });

  it('grants in the allowance’s slots, 4 hours each, then reports each and it is charged once', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    granted(await client.launch('autocad'));
    later(25 * HOUR); // yesterday's session is over
    await client.signIn('ada@example.com', 'correct horse');
    await gateway.stop();
    later(HOUR);

    const first = granted(await client.launch('autocad'));
    expect(first).toMatchObject({ provisional: true, charged: 0, fromCache: false });
    if (!first.provisional) throw new Error('expected provisional');
    const aid = (await client.whoami()).offlineAllowance?.id;
    expect(first.provisionalId).toBe(`${aid}.0`);
    expect(Date.parse(first.expiresAt) - Date.parse(first.launchedAt)).toBe(4 * HOUR);

    later(HOUR);
    const second = granted(await client.launch('autocad'));
    expect(second).toMatchObject({ provisional: true, fromCache: true, provisionalId: first.provisionalId });
    expect(await readdir(join(dir, 'provisional'))).toHaveLength(1);

    later(3 * HOUR + 1000); // past the 4 hours, still offline: the next slot
    const next = granted(await client.launch('autocad'));
    expect(next).toMatchObject({ provisional: true, provisionalId: `${aid}.1` });

    await gateway.start();
    const back = granted(await client.launch('autocad'));
    expect(back).toMatchObject({ provisional: false, charged: 0 }); // the provisional session is open
    expect(reports().map((r) => r.idempotencyKey)).toEqual([`provisional-${aid}.0`, `provisional-${aid}.1`]);
    expect(reports()[0]?.body).toMatchObject({ provisional: { id: first.provisionalId, launchedAt: first.launchedAt } });
    expect(gateway.charges.map((c) => c.provisionalId ?? 'online')).toEqual(['online', first.provisionalId]);
    expect(gateway.charges[1]?.at).toBe(first.launchedAt);
    expect(await readdir(join(dir, 'provisional'))).toHaveLength(0);

    // Reconnecting again reports nothing more.
    await client.launch('autocad', { fresh: true });
    expect(reports()).toHaveLength(2);
    expect(gateway.charges).toHaveLength(2);
  });

  it('is refused once the allowance has ended, 24 hours after the last contact', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    granted(await client.launch('autocad'));
    await gateway.stop();
    later(24 * HOUR + 1000);
    const result = await client.launch('autocad');
    expect(result).toMatchObject({ granted: false, code: 'gateway-unreachable' });
    if (!result.granted) expect(result.reason).toMatch(/offline allowance ended/);
  });

  it('is refused for a product the allowance does not list', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    await gateway.stop();
    const result = await client.launch('revit');
    expect(result).toMatchObject({ granted: false, code: 'gateway-unreachable' });
    if (!result.granted) expect(result.reason).toMatch(/revit is not in the offline allowance/);
  });

  it('slots survive a restart of the client; once all are used, nothing more until the gateway is reached', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    await gateway.stop();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await client.close();
      client = newClient();
      const r = granted(await client.launch('autocad'));
      if (r.provisional) ids.push(r.provisionalId);
      later(4 * HOUR);
    }
    expect(new Set(ids).size).toBe(3);
    await client.close();
    client = newClient();
    const refused = await client.launch('autocad');
    expect(refused).toMatchObject({ granted: false, code: 'gateway-unreachable' });
    if (!refused.granted) expect(refused.reason).toMatch(/All 3 provisional launches/);
  });

  it('turned off by the gateway: the allowance kept is dropped, and nothing is granted offline', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    expect((await client.whoami()).offlineAllowance).not.toBeNull();
    gateway.offlineHours = 0;
    later(HOUR);
    granted(await client.launch('autocad'));
    expect((await client.whoami()).offlineAllowance).toBeNull();
    await gateway.stop();
    later(25 * HOUR);
    const result = await client.launch('autocad');
    if (result.granted) throw new Error('expected a refusal');
    expect(result.reason).toMatch(/No offline allowance/);
  });
});

describe('a running product', () => {
  it('heartbeats keep the session; ending within 5 minutes refunds and voids the cached entitlement', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const grant = granted(await client.launch('autocad'));
    const running = runProduct(client, 'autocad', grant, { heartbeatMs: 60 * 60_000 });
    later(60_000);
    await running.heartbeatNow();
    expect(running.grant.session?.id).toBe(grant.session?.id);
    const heartbeat = gateway.requests.find((r) => r.path.endsWith('/heartbeat'));
    expect(heartbeat?.idempotencyKey).toBeTruthy();
    const outcome = await running.stop();
    expect(outcome).toMatchObject({ reason: 'closed', ended: { refunded: 7 } });
    expect(gateway.charges).toHaveLength(0);
    const relaunch = granted(await client.launch('autocad'));
    expect(relaunch.fromCache).toBe(false);
  });

  it('a heartbeat past 24 hours opens and charges the next session', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    const grant = granted(await client.launch('autocad'));
    const events: string[] = [];
    const running = runProduct(client, 'autocad', grant, {
      heartbeatMs: 60 * 60_000,
      onEvent: (e) => events.push(e.type === 'renewed' ? `renewed:${e.nextSession}` : e.type),
    });
    later(24 * HOUR + 1000);
    await running.heartbeatNow();
    expect(running.grant.session?.id).not.toBe(grant.session?.id);
    expect(events).toContain('renewed:true');
    expect(gateway.charges).toHaveLength(2);
    await running.stop();
  });

  it('loses the gateway, runs on until exp, then stops with a clear message', async () => {
    now = new Date();
    const real = newClient({ clock: () => new Date(), clockSkewSec: 0 });
    gateway.entitlementTtlSec = 2;
    try {
      await real.signIn('ada@example.com', 'correct horse');
      const grant = granted(await real.launch('autocad'));
      await gateway.stop();
      const events: string[] = [];
      const running = runProduct(real, 'autocad', grant, { heartbeatMs: 200, onEvent: (e) => events.push(e.type) });
      const outcome = await running.done;
      expect(outcome.reason).toBe('entitlement-expired');
      if (outcome.reason === 'entitlement-expired') expect(outcome.message).toMatch(/could not be reached.*stops/);
      expect(events).toContain('offline');
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(grant.expiresAt));
    } finally {
      await real.close();
    }
  }, 10_000);
});

describe('whoami and products', () => {
  it('lists the sign-in, valid entitlements and pending provisional launches', async () => {
    expect((await client.whoami()).signedIn).toBe(false);
    await client.signIn('ada@example.com', 'correct horse');
    granted(await client.launch('autocad'));
    const me = await client.whoami();
    expect(me).toMatchObject({ signedIn: true, autodeskId: 'ada@example.com' });
    expect(me.entitlements.map((e) => e.product)).toEqual(['autocad']);
    expect((await client.products()).map((p) => p.key)).toEqual(['autocad']);
  });

  it('lists only the signed-in user’s entitlements on a shared cache, once each, and no allowance past its end', async () => {
    await client.signIn('ada@example.com', 'correct horse');
    granted(await client.launch('autocad'));
    await client.signOut();
    await client.signIn('Bob@Example.com', 'correct horse');
    granted(await client.launch('autocad'));
    granted(await client.launch('revit'));
    const me = await client.whoami();
    expect(me.autodeskId).toBe('bob@example.com');
    expect(me.entitlements.map((e) => e.product).sort()).toEqual(['autocad', 'revit']);
    expect(me.offlineAllowance?.expiresAt).toBe(new Date(now.getTime() + 24 * HOUR).toISOString());
    later(24 * HOUR);
    expect(await client.whoami()).toMatchObject({ entitlements: [], offlineAllowance: null });
  });
});
