/**
 * The real client and the `flexgate` CLI against a real gateway PROCESS: retries through a proxy
 * that loses an answer (R7: one charge), a key rotation followed by the client (R17), the CLI's
 * output and exit codes, and `flexgate simulate`.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createClient, type FlexgateClient } from '@flexgate/client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs, ledger, type ProcessGateway, runFlexgate, startProcessGateway } from '../harness/client-e2e';
import { expectLedgerMatchesBalance, joinTeam, newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { granted } from '../harness/launch-results';
import { trustOf } from '../harness/trust';

let gw: ProcessGateway;
let trust: string;
let proxy: Proxy;
const dirs = cacheDirs();
const clients: FlexgateClient[] = [];

beforeAll(async () => {
  gw = await startProcessGateway();
  trust = await trustOf(gw);
  await seedCatalog(gw.fixtures());
  proxy = await startProxy(gw.port);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await proxy?.close();
  await gw?.close();
  dirs.cleanup();
});

/**
 * A TCP proxy on 127.0.0.1 in front of the gateway. It reads the request lines going through
 * (undici sends one request at a time per connection, so the next bytes back are that request's
 * answer) and, when armed, lets the gateway answer the next `POST /v1/launch` in full (so the
 * launch is committed) and then cuts the connection instead of passing the answer on.
 */
interface Proxy {
  url: string;
  /** Request lines seen, with their Idempotency-Key, in order. */
  requests: { line: string; idempotencyKey: string | null }[];
  dropNextLaunchAnswer(): void;
  dropped: number;
  close(): Promise<void>;
}

async function startProxy(gatewayPort: number): Promise<Proxy> {
  let armed = false;
  const state: Proxy = {
    url: '',
    requests: [],
    dropped: 0,
    dropNextLaunchAnswer: () => {
      armed = true;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = createConnection(gatewayPort, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    let swallow = false;
    downstream.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      const line = /^(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.1\r$/m.exec(text);
      if (line) {
        const key = /^idempotency-key: *(\S+)\r$/im.exec(text)?.[1] ?? null;
        state.requests.push({ line: `${line[1]} ${line[2]}`, idempotencyKey: key });
        if (armed && line[1] === 'POST' && line[2] === '/v1/launch') {
          armed = false;
          swallow = true;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!swallow) {
        downstream.write(chunk);
        return;
      }
      // The gateway has answered, so the charge is committed; the client never hears of it.
      state.dropped++;
      downstream.destroy();
      upstream.destroy();
    });
    const closeBoth = () => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = state.close;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await close();
  };
  return state;
}

function newClient(gatewayUrl: string): { client: FlexgateClient; dir: string } {
  const dir = dirs.make();
  const client = createClient({
    gatewayUrl,
    trust,
    cacheDir: dir,
    machine: 'e2e-workstation',
    http: { timeoutMs: 10_000, retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 400 } },
  });
  clients.push(client);
  return { client, dir };
}

async function member(tokens: number, products: string[]) {
  const team = await newTeam(gw.fixtures(), tokens);
  const account = await newAccount(gw.fixtures());
  await joinTeam(gw, team, account, { products });
  return { team, ...account };
}

it('R7: the first answer of a launch is lost by a proxy; the client retries with the same Idempotency-Key and the ledger shows ONE charge', async () => {
  const u = await member(50, ['autocad']);
  const { client } = newClient(proxy.url);
  await client.signIn(u.autodeskId, u.password);

  const before = proxy.requests.length;
  proxy.dropNextLaunchAnswer();
  const r = granted(await client.launch('autocad'));
  expect(proxy.dropped).toBe(1);
  // The retry got the first attempt's answer back: the charge it made, and the same session.
  expect(r).toMatchObject({ source: 'flex', charged: 7, balance: 43, fromCache: false });

  const launches = proxy.requests.slice(before).filter((q) => q.line === 'POST /v1/launch');
  expect(launches).toHaveLength(2);
  expect(launches[0]?.idempotencyKey).toBeTruthy();
  expect(launches[1]?.idempotencyKey).toBe(launches[0]?.idempotencyKey);

  const charges = (await ledger(gw, u.team)).filter((e) => e.kind === 'charge');
  expect(charges).toHaveLength(1);
  expect(charges[0]).toMatchObject({ tokens: -7, sessionId: r.session?.id, autodeskId: u.autodeskId, product: 'autocad' });
  await expectLedgerMatchesBalance(gw.fixtures(), u.team);
});

it('R17: after a key rotation the client learns the new key set at its next answer, once, and verifies', async () => {
  const u = await member(50, ['autocad', 'revit']);
  const { client, dir } = newClient(proxy.url);
  const keySetFetches = () => proxy.requests.filter((q) => q.line === 'GET /.well-known/flexgate-keys').length;
  const start = keySetFetches();
  await client.signIn(u.autodeskId, u.password);
  expect(keySetFetches() - start).toBe(1);
  const old = granted(await client.launch('autocad'));
  const oldKid = decodeProtectedHeader(old.entitlement).kid;
  expect(keySetFetches() - start).toBe(1);

  const { kid } = expectStatus(await gw.op.post('/v1/keys/rotate'), 200);
  expect(kid).not.toBe(oldKid);

  // A new session is signed with the new key.
  const fresh = granted(await client.launch('revit'));
  expect(decodeProtectedHeader(fresh.entitlement).kid).toBe(kid);
  expect(fresh.claims).toMatchObject({ product: 'revit', sub: u.autodeskId });
  expect(keySetFetches() - start).toBe(2);
  const cached = (decodeJwt(JSON.parse(readFileSync(join(dir, 'keyset.json'), 'utf8')).keySet).keys as { kid: string }[]).map((k) => k.kid);
  expect(cached).toEqual(expect.arrayContaining([oldKid, kid]));

  // Both keys are now known: the old session's entitlement and the new one verify with no more fetches.
  expect(granted(await client.launch('autocad', { fresh: true })).claims.sid).toBe(old.claims.sid);
  expect(granted(await client.launch('revit', { fresh: true })).claims.sid).toBe(fresh.claims.sid);
  expect(keySetFetches() - start).toBe(2);
});

describe('the flexgate CLI, spawned as a process', () => {
  it('signout ends the sign-in on the gateway: a copy of the cache taken before signs in to nothing', async () => {
    const u = await member(50, ['autocad']);
    const dir = dirs.make();
    const common = ['--gateway', gw.url, '--cache-dir', dir, '--trust', trust];
    expect((await runFlexgate(['signin', '--user', u.autodeskId, ...common], { FLEXGATE_PASSWORD: u.password })).code).toBe(0);
    const copy = dirs.make();
    cpSync(dir, copy, { recursive: true });
    const out = await runFlexgate(['signout', ...common]);
    expect([out.code, out.stdout.trim()]).toEqual([0, 'Signed out, on the gateway too.']);
    expect(existsSync(join(dir, 'signin.json'))).toBe(false);
    // The copy's refresh token and access token both ended (the CLI once only deleted its file).
    const kept = JSON.parse(readFileSync(join(copy, 'signin.json'), 'utf8')) as { token: string; refreshToken: string };
    expect((await gw.anon.post('/v1/token/refresh', { refreshToken: kept.refreshToken })).status).toBe(401);
    const launched = await runFlexgate(['launch', 'autocad', '--gateway', gw.url, '--cache-dir', copy, '--trust', trust]);
    expect(launched.code).toBe(3);
    expect(launched.stderr).toMatch(/sign/i);

    // A gateway out of reach: forgotten here all the same, and said plainly.
    const away = dirs.make();
    expect(
      (
        await runFlexgate(['signin', '--user', u.autodeskId, '--gateway', gw.url, '--cache-dir', away, '--trust', trust], {
          FLEXGATE_PASSWORD: u.password,
        })
      ).code,
    ).toBe(0);
    const record = JSON.parse(readFileSync(join(away, 'signin.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(away, 'signin.json'), JSON.stringify({ ...record, gatewayUrl: 'http://127.0.0.1:9' }));
    const offline = await runFlexgate(['signout', '--cache-dir', away]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/^Signed out on this machine\. The gateway could not be reached/);
    expect(existsSync(join(away, 'signin.json'))).toBe(false);
  });

  // Each spawn starts node on the compiled CLI (client/dist, `pnpm build`); a budget for busy machines.
  it('signin, launch, relaunch from cache, --json, refusal; exit codes 0, 3 and 2 (4: client-offline)', async () => {
    const u = await member(50, ['autocad']);
    const dir = dirs.make();
    const common = ['--gateway', gw.url, '--cache-dir', dir];

    const [signin, usage] = await Promise.all([
      runFlexgate(['signin', '--user', u.autodeskId, ...common], { FLEXGATE_PASSWORD: u.password }),
      runFlexgate(['launch', ...common]),
    ]);
    expect(signin.code, signin.stderr).toBe(0);
    expect(signin.stdout).toContain(`Signed in as ${u.autodeskId}`);
    // No --trust: the first sign-in pins the gateway's root key, and says so.
    expect(signin.stderr).toContain(`Pinned the gateway's root key ${trust} (trust on first use)`);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('launch needs a product key');
    expect(usage.stderr).toContain('Exit codes:');

    // A product key the gateway refuses as typed: refused (3), saying what, not "Invalid json".
    const typed = await runFlexgate(['launch', 'AutoCAD', ...common]);
    expect(typed.code).toBe(3);
    expect(typed.stderr).toMatch(/^Refused \(invalid-request\): Invalid request body: product: /);

    const launch = await runFlexgate(['launch', 'autocad', ...common]);
    expect(launch.code, launch.stderr).toBe(0);
    // The names signed into the entitlement, not the product key and the team id.
    expect(launch.stdout).toMatch(/^Granted AutoCAD by flex \(team Team [0-9a-f]{8}\)\.$/m);
    expect(launch.stdout).not.toContain(u.team);
    expect(launch.stdout).toMatch(/tokens charged: 7\n/);
    expect(launch.stdout).toMatch(/balance: +43 tokens\n/);
    expect(launch.stdout).toMatch(/session ends: +\S/);

    const [again, refused] = await Promise.all([
      runFlexgate(['launch', 'autocad', '--json', ...common]),
      runFlexgate(['launch', 'revit', ...common]),
    ]);
    expect(again.code, again.stderr).toBe(0);
    const json = JSON.parse(again.stdout);
    expect(json).toMatchObject({ granted: true, fromCache: true, charged: 0, source: 'flex', team: u.team });
    expect(json.claims).toMatchObject({ team: u.team, productName: 'AutoCAD', teamName: expect.stringMatching(/^Team /) });
    expect(launch.stdout).toContain(`(team ${json.claims.teamName}).`);
    // The human output showed the session end in local time.
    const local = new Date(json.sessionEnd).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    expect(launch.stdout).toContain(`session ends:   ${local}`);

    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^Refused \(no-access\): /);
    expect(refused.stdout).toBe('');

    // What this user may launch, then the whole catalog, with the daily rates; nothing for a stranger.
    const stranger = await newAccount(gw.fixtures());
    const strangerArgs = ['--gateway', gw.url, '--cache-dir', dirs.make(), '--trust', trust];
    const [mine, all, strangerIn] = await Promise.all([
      runFlexgate(['products', ...common]),
      runFlexgate(['products', '--all', ...common]),
      runFlexgate(['signin', '--user', stranger.autodeskId, ...strangerArgs], { FLEXGATE_PASSWORD: stranger.password }),
    ]);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toBe('autocad  AutoCAD  (7 tokens/day)\n');
    expect(all.stdout).toMatch(/^autocad +AutoCAD {2}\(7 tokens\/day\)$/m);
    expect(all.stdout).toMatch(/^civil-3d +Civil 3D {2}\(11 tokens\/day\)$/m);
    expect(strangerIn.code, strangerIn.stderr).toBe(0);
    const [nothing, who] = await Promise.all([runFlexgate(['products', ...strangerArgs]), runFlexgate(['whoami', ...strangerArgs])]);
    expect(nothing.stdout).toBe('No products.\n');
    expect(who.stdout).toMatch(/^ {2}offline: no products until \S/m);

    // One charge for the three launches.
    expect((await ledger(gw, u.team)).filter((e) => e.kind === 'charge')).toHaveLength(1);
  }, 90_000);

  it('launch --team: a member of two teams names the one to charge; without it the refusal says so (exit 3)', async () => {
    const u = await member(50, ['autocad']);
    const team2 = await newTeam(gw.fixtures(), 30);
    await joinTeam(gw, team2, u, { products: ['autocad'] });
    const common = ['--gateway', gw.url, '--cache-dir', dirs.make(), '--trust', trust];
    const signin = await runFlexgate(['signin', '--user', u.autodeskId, ...common], { FLEXGATE_PASSWORD: u.password });
    expect(signin.code, signin.stderr).toBe(0);
    const bare = await runFlexgate(['launch', 'autocad', ...common]);
    expect(bare.code).toBe(3);
    expect(bare.stderr).toMatch(/is a member of several teams: /);
    const named = await runFlexgate(['launch', 'autocad', '--team', team2, '--json', ...common]);
    expect(named.code, named.stderr).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ granted: true, charged: 7, balance: 23, team: team2 });
    expect((await ledger(gw, u.team)).filter((e) => e.kind === 'charge')).toEqual([]);
  }, 60_000);

  it('flexgate simulate --users 3 --launches 4 drives the real gateway and prints a summary', async () => {
    const prefix = `sim-${randomBytes(3).toString('hex')}`;
    const run = await runFlexgate(
      [
        'simulate',
        '--users',
        '3',
        '--launches',
        '4',
        '--products',
        'autocad,revit',
        '--setup',
        '--tokens',
        '1000',
        '--prefix',
        prefix,
        '--gateway',
        gw.url,
      ],
      { FLEXGATE_OPERATOR_KEY: gw.operatorKey },
      80_000,
    );
    expect(run.code, run.stderr).toBe(0);
    // Each user launches autocad and revit twice: one day of each charged (7 + 10), the rest free (R7).
    expect(run.stdout).toMatch(/^12 launches by 3 users in [\d.]+ s/m);
    expect(run.stdout).toMatch(/granted: +12\n/);
    expect(run.stdout).toMatch(/sources: +flex 12\n/);
    expect(run.stdout).toMatch(/tokens charged: 51\n/);
    expect(run.stdout).toMatch(/refusals: +none\n/);
    expect(run.stdout).toMatch(/latency ms: +p50 [\d.]+ +p95 [\d.]+ +p99 [\d.]+ +max [\d.]+/);
    // The progress bar (one line per tenth when not on a terminal) goes to stderr.
    expect(run.stderr).toContain('12/12 launches (100%)');

    // Run again with the same prefix: its users exist already (409) and belong to the first run's
    // team too; the launches go through the new one. Without --products: the catalog's, in order.
    const again = await runFlexgate(
      ['simulate', '--users', '2', '--launches', '1', '--setup', '--prefix', prefix, '--gateway', gw.url],
      { FLEXGATE_OPERATOR_KEY: gw.operatorKey },
      80_000,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^2 launches by 2 users in [\d.]+ s/m);
    expect(again.stdout).toMatch(/granted: +2\n/);
    // The catalog by key: user 1 opens a 3ds Max day (9); user 2's AutoCAD day, opened by the first
    // run through its team, answers (R7).
    expect(again.stdout).toMatch(/tokens charged: 9\n/);

    // Given a root key the gateway's keys do not chain to, nothing it signs is believed.
    const untrusted = await runFlexgate([
      'simulate',
      '--users',
      '1',
      '--launches',
      '1',
      '--prefix',
      prefix,
      '--trust',
      'A'.repeat(43),
      '--gateway',
      gw.url,
    ]);
    expect(untrusted.code).toBe(3); // refused, as `signin` with the same root
    expect(untrusted.stderr).toBe(
      `flexgate: simulate failed: The gateway's root key is not the trusted one (${'A'.repeat(43)}). Check the trust root.\n`,
    );

    // A wrong operator key for --setup: a refusal in the gateway's words (3), not raw JSON and exit 1.
    const wrongKey = await runFlexgate(
      ['simulate', '--users', '1', '--launches', '1', '--setup', '--prefix', prefix, '--gateway', gw.url],
      {
        FLEXGATE_OPERATOR_KEY: `${gw.operatorKey}x`,
      },
    );
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/^flexgate: simulate failed: setup \/v1\/teams was refused \(401\): [^{]+\n$/);
  }, 150_000);
});
