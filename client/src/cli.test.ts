import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY, parseCli, UsageError } from './args';
import { type StubGateway, startStubGateway } from './testing/stub-gateway';

const env = { FLEXGATE_CACHE_DIR: '/tmp/fg' };

describe('parseCli', () => {
  it('reads commands, flags and environment defaults', () => {
    expect(parseCli(['launch', 'autocad', '--team', 't1', '--json'], env)).toMatchObject({
      name: 'launch',
      product: 'autocad',
      team: 't1',
      json: true,
      fresh: false,
      run: false,
      heartbeatSec: 300,
      gateway: DEFAULT_GATEWAY,
      cacheDir: '/tmp/fg',
    });
    expect(parseCli(['signin', '--user', 'a@b.c'], { ...env, FLEXGATE_PASSWORD: 'pw', FLEXGATE_URL: 'http://gw:1' })).toMatchObject({
      name: 'signin',
      user: 'a@b.c',
      password: 'pw',
      gateway: 'http://gw:1',
    });
    expect(parseCli(['simulate', '--users', '3', '--launches', '2', '--products', 'a, b'], env)).toMatchObject({
      users: 3,
      launches: 2,
      concurrency: 16,
      products: ['a', 'b'],
      setup: false,
    });
    expect(parseCli(['launch', 'x', '--run', '--hold', '5', '--heartbeat', '1'], env)).toMatchObject({ holdSec: 5, heartbeatSec: 1 });
    expect(parseCli([], env)).toEqual({ name: 'help' });
    expect(parseCli(['whoami', '--help'], env)).toEqual({ name: 'help' });
  });

  it('rejects what it does not understand', () => {
    const bad = [
      ['frobnicate'],
      ['launch'],
      ['launch', 'a', 'b'],
      ['launch', 'a', '--users', '3'],
      ['launch', 'a', '--hold', '3'],
      ['launch', 'a', '--bogus'],
      ['signin', '--user', 'a@b.c'],
      ['signin'],
      ['simulate', '--users', '0', '--launches', '1'],
      ['simulate', '--users', 'many', '--launches', '1'],
      ['simulate', '--launches', '1'],
      ['simulate', '--users', '1', '--launches', '1', '--setup'],
      ['products', '--gateway', 'not a url'],
    ];
    for (const argv of bad) expect(() => parseCli(argv, env), argv.join(' ')).toThrow(UsageError);
  });
});

const bin = fileURLToPath(new URL('../bin/flexgate.js', import.meta.url));

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the flexgate binary', () => {
  let gateway: StubGateway;
  let cacheDir: string;
  beforeAll(async () => {
    gateway = await startStubGateway(() => new Date());
    cacheDir = await mkdtemp(join(tmpdir(), 'flexgate-cli-'));
  });
  afterAll(async () => {
    await gateway.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const withEnv = () => ({ FLEXGATE_URL: gateway.url, FLEXGATE_CACHE_DIR: cacheDir });

  it('prints help (0) and usage errors (2)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
    const usage = await run(['launch']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/needs a product/);
  }, 20_000);

  it('refuses before sign-in (3), grants (0) with readable and JSON output, refuses unknown products (3)', async () => {
    const before = await run(['launch', 'autocad'], withEnv());
    expect(before.code).toBe(3);
    expect(before.stderr).toMatch(/Not signed in/);

    const signin = await run(['signin', '--user', 'ada@example.com'], { ...withEnv(), FLEXGATE_PASSWORD: 'correct horse' });
    expect(signin.code).toBe(0);
    expect(signin.stdout).toMatch(/Signed in as ada@example.com/);

    const launch = await run(['launch', 'autocad'], withEnv());
    expect(launch.code).toBe(0);
    expect(launch.stdout).toMatch(/Granted autocad by flex/);
    expect(launch.stdout).toMatch(/tokens charged: 7/);
    expect(launch.stdout).toMatch(/session ends:/);

    const json = await run(['launch', 'autocad', '--json'], withEnv());
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ granted: true, fromCache: true, charged: 0, claims: { product: 'autocad' } });

    const unknown = await run(['launch', 'nope', '--json'], withEnv());
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ granted: false, code: 'unknown-product' });

    const who = await run(['whoami', '--json'], withEnv());
    expect(JSON.parse(who.stdout)).toMatchObject({ signedIn: true, autodeskId: 'ada@example.com' });
  }, 30_000);

  it('runs as a simulated product: heartbeats, then closes and is refunded within 5 minutes', async () => {
    const run_ = await run(['launch', 'autocad', '--fresh', '--run', '--hold', '2', '--heartbeat', '1'], withEnv());
    expect(run_.code).toBe(0);
    expect(run_.stderr).toMatch(/Heartbeat: entitlement renewed/);
    expect(run_.stderr).toMatch(/Closed: session .* refunded 7/);
  }, 30_000);

  it('says the gateway is unreachable (4) when nothing offline can be used', async () => {
    const deadUrl = 'http://127.0.0.1:9';
    const offlineDir = join(cacheDir, 'offline');
    await mkdir(offlineDir, { recursive: true });
    await writeFile(
      join(offlineDir, 'signin.json'),
      JSON.stringify({
        gatewayUrl: deadUrl,
        autodeskId: 'ada@example.com',
        token: 'x.y.z',
        expiresAt: new Date().toISOString(),
        signedInAt: new Date().toISOString(),
      }),
    );
    const dead = await run(['launch', 'autocad'], { FLEXGATE_URL: deadUrl, FLEXGATE_CACHE_DIR: offlineDir });
    expect(dead.code).toBe(4);
    expect(dead.stderr).toMatch(/Gateway unreachable: .*ECONNREFUSED.*never granted/);
    const products = await run(['products'], { FLEXGATE_URL: deadUrl, FLEXGATE_CACHE_DIR: offlineDir });
    expect(products.code).toBe(4);
    const stranger = await run(['products'], { FLEXGATE_URL: deadUrl, FLEXGATE_CACHE_DIR: cacheDir });
    expect(stranger.code).toBe(3); // that sign-in belongs to another gateway
  }, 30_000);
});
