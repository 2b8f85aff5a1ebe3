import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY, parseCli, UsageError } from './args';
import { formatInstant } from './format';
import { builtFlexgate } from './testing/bundle';
import { makeRoot } from './testing/keys';
import { type StubGateway, startStubGateway } from './testing/stub-gateway';
import { runInTerminal as inTerminal } from './testing/terminal';

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
    expect(parseCli(['--help'], env)).toEqual({ name: 'help' });
    expect(parseCli(['whoami', '--help'], env)).toEqual({ name: 'help', topic: 'whoami' });
    expect(parseCli(['help', 'launch'], env)).toEqual({ name: 'help', topic: 'launch' });
    // No password yet: the CLI asks for it, or reads it from standard input.
    expect(parseCli(['signin', '--user', 'a@b.c'], env)).not.toHaveProperty('password');
    // The trust root: the option, else the environment; none means the pinned one.
    const thumbprint = 'tvJlzuJZX9da6GZPU-aUoQI-zeDpybkzaUBh6Y8iJvo';
    expect(parseCli(['launch', 'x', '--trust', thumbprint], env)).toMatchObject({ trust: thumbprint });
    // One thumbprint in 64 starts with a dash; so may a password.
    const dashed = '-vJlzuJZX9da6GZPU-aUoQI-zeDpybkzaUBh6Y8iJvo';
    expect(parseCli(['launch', 'x', '--trust', dashed, '--fresh'], env)).toMatchObject({ trust: dashed, fresh: true });
    expect(parseCli(['signin', '--user', 'a@b.c', '--password', '-secret'], env)).toMatchObject({ password: '-secret' });
    expect(parseCli(['whoami'], { ...env, FLEXGATE_TRUST: '{"kty":"OKP"}' })).toMatchObject({ trust: '{"kty":"OKP"}' });
    expect(parseCli(['whoami'], env)).not.toHaveProperty('trust');
    // A value that looks like an option but is none of flexgate's is a value.
    expect(parseCli(['signin', '--user', 'a@b.c', '--password', '--secret'], env)).toMatchObject({ password: '--secret' });
    expect(parseCli(['launch', 'x', '--machine', 'ws-12'], env)).toMatchObject({ machine: 'ws-12' });
    expect(parseCli(['launch', 'x'], env)).not.toHaveProperty('machine');
    expect(parseCli(['usage', '--from', '2026-03-01', '--to', '2026-03-31'], env)).toMatchObject({ from: '2026-03-01', to: '2026-03-31' });
    const onlyTo = parseCli(['usage', '--to', '2026-03-31'], env);
    expect([onlyTo, 'from' in onlyTo]).toEqual([expect.objectContaining({ to: '2026-03-31' }), false]);
    const onlyFrom = parseCli(['usage', '--from', '2026-03-01'], env);
    expect([onlyFrom, 'to' in onlyFrom]).toEqual([expect.objectContaining({ from: '2026-03-01' }), false]);
    const verify = ['ledger', 'verify', '--team', 't1', '--admin-key', 'k'];
    expect(parseCli(verify, env)).toMatchObject({ name: 'ledger', action: 'verify', team: 't1', adminKey: 'k' });
    expect(parseCli(verify, env)).not.toHaveProperty('keep');
    expect(parseCli([...verify, '--keep', 'checkpoints'], env)).toMatchObject({ keep: 'checkpoints' });
    const sim = ['simulate', '--users', '2', '--launches', '1'];
    expect(parseCli([...sim, '--products', 'revit'], env)).toMatchObject({ products: ['revit'] });
    expect(parseCli([...sim, '--products', ' , '], env)).not.toHaveProperty('products');
    expect(parseCli([...sim, '--setup', '--operator-key', 'op_k'], env)).toMatchObject({ setup: true, operatorKey: 'op_k' });
    expect(parseCli(sim, env)).not.toHaveProperty('operatorKey');
  });

  it('rejects what it does not understand', () => {
    const bad = [
      ['frobnicate'],
      ['launch'],
      ['launch', 'a', 'b'],
      ['launch', 'a', '--users', '3'],
      ['launch', 'a', '--hold', '3'],
      ['launch', 'a', '--bogus'],
      ['launch', 'a', '--team', '--fresh'],
      ['launch', 'a', '--trust', 'not-a-thumbprint'],
      ['signin'],
      ['help', 'frobnicate'],
      ['help', 'launch', 'now'],
      ['simulate', '--users', '0', '--launches', '1'],
      ['simulate', '--users', 'many', '--launches', '1'],
      ['simulate', '--launches', '1'],
      ['simulate', '--users', '1', '--launches', '1', '--setup'],
      ['products', '--gateway', 'not a url'],
      // A URL undici cannot speak to: a usage error, not a stack trace (found trying the CLI).
      ['whoami', '--gateway', 'ftp://gateway.example'],
      ['launch', 'a', '--gateway', 'file:///etc/passwd'],
      ['whoami', 'now'],
      ['products', 'all'],
      ['launch', 'a', '--heartbeat', '5'],
      ['launch', 'a', '--idle-after', '60'],
      ['launch', 'a', '--team', '-h'],
      ['usage', '--from', '2026-3-1'],
      ['usage', '--to', 'yesterday'],
      ['usage', '--from', '2026-12-10', '--to', '2026-12-01'],
      ['ledger'],
      ['ledger', 'check', '--team', 't1', '--admin-key', 'k'],
      ['ledger', 'verify', '--admin-key', 'k'],
      ['ledger', 'verify', '--team', 't1'],
    ];
    for (const argv of bad) expect(() => parseCli(argv, env), argv.join(' ')).toThrow(UsageError);
    // The error names its command, whose usage is then shown rather than the global one.
    expect(() => parseCli(['launch', 'a', '--bogus'], env)).toThrow(expect.objectContaining({ command: 'launch' }));
    expect(() => parseCli(['simulate', '--users', '0', '--launches', '1'], env)).toThrow(expect.objectContaining({ command: 'simulate' }));
    // An unknown option of an unknown command: the global usage, as there is no command's to show.
    expect(() => parseCli(['frobnicate', '--bogus'], env)).toThrow(expect.objectContaining({ command: undefined }));
    expect(() => parseCli(['ledger'], env)).toThrow('ledger needs an action: ledger verify');
    expect(() => parseCli(['ledger', 'check'], env)).toThrow('unknown ledger action "check"');
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The compiled CLI (client/dist, built by `pnpm build`), spawned as `node client/bin/flexgate.js`;
// builtFlexgate() fails the tests at once, saying so, when the bundle is missing or stale.
let bin = '';

/** Nothing of the test runner's own FLEXGATE_* environment (a password, say) reaches the CLI. */
function cleanEnv(extraEnv: Record<string, string>): Record<string, string | undefined> {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEXGATE_'))), ...extraEnv };
}

/** Standard input is empty unless `input` is given, as under a script with nothing piped in. */
function run(args: string[], extraEnv: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: cleanEnv(extraEnv) });
    child.stdin.end(input ?? '');
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

/** The CLI in a real pseudo-terminal, typing `keys` once `waitFor` shows (testing/terminal.ts). */
function runInTerminal(args: string[], extraEnv: Record<string, string>, waitFor: string, keys: string) {
  return inTerminal([bin, ...args], cleanEnv(extraEnv), waitFor, keys);
}

describe('the flexgate binary', () => {
  let gateway: StubGateway;
  let cacheDir: string;
  beforeAll(async () => {
    bin = builtFlexgate();
    gateway = await startStubGateway(() => new Date());
    cacheDir = await mkdtemp(join(tmpdir(), 'flexgate-cli-'));
  });
  afterAll(async () => {
    await gateway.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });
  /** A cache of its own for one test, signed in to the stub gateway as Ada: tests run in any order. */
  const signedIn = async () => {
    const env = { FLEXGATE_URL: gateway.url, FLEXGATE_CACHE_DIR: await mkdtemp(join(cacheDir, 'ada-')) };
    expect((await run(['signin', '--user', 'ada@example.com'], { ...env, FLEXGATE_PASSWORD: 'correct horse' })).code).toBe(0);
    return env;
  };

  it('prints help (0) and usage errors (2)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
    expect(help.stdout).toMatch(/flexgate <command> --help/);
    // `help help` is the usage the list promises, and help shows whatever FLEXGATE_NOW holds.
    expect((await run(['help', 'help'])).stdout).toBe(help.stdout);
    expect(await run(['help'], { FLEXGATE_NOW: 'garbage' })).toMatchObject({ code: 0, stdout: help.stdout });
    const usage = await run(['launch']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/needs a product/);
    // The usage shown is launch's own, not the list of commands.
    expect(usage.stderr).toMatch(/^Usage: flexgate launch <product>/m);
    expect(usage.stderr).not.toMatch(/^Commands:/m);
    // A --trust that is no key: ledger verify says so as a usage error, not as a ledger NOT verified (5).
    const trust = await run(['ledger', 'verify', '--team', 't1', '--admin-key', 'k', '--trust', '{"kty":"OKP"}']);
    expect([trust.code, trust.stderr]).toEqual([2, expect.stringMatching(/^flexgate: --trust: The trust root must be/)]);
  }, 20_000);

  it('gives each command its own --help, also as `flexgate help <command>`', async () => {
    const commands = ['signin', 'signout', 'launch', 'products', 'usage', 'whoami', 'simulate'];
    const [helps, topics, unknown] = await Promise.all([
      Promise.all(commands.map((c) => run([c, '--help']))),
      Promise.all(commands.map((c) => run(['help', c]))),
      run(['help', 'frobnicate']),
    ]);
    commands.forEach((command, i) => {
      const help = helps[i]!;
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^Usage: flexgate ${command}\\b`));
      expect(help.stdout, command).toMatch(new RegExp(`^Examples?:\\n  flexgate ${command}\\b`, 'm'));
      expect(help.stdout, command).not.toMatch(/^Commands:/m);
      expect(topics[i]!.stdout, command).toBe(help.stdout);
    });
    expect(helps[2]!.stdout).toMatch(/--heartbeat SECONDS +with --run/);
    expect(helps[0]!.stdout).toMatch(/asked for on the\n? *terminal \(not echoed\)/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  }, 30_000);

  it('refuses before sign-in (3), grants (0) with readable and JSON output, refuses unknown products (3)', async () => {
    // A cache and a user of its own: her first launch of the day (the stub keeps sessions across tests).
    const env = { FLEXGATE_URL: gateway.url, FLEXGATE_CACHE_DIR: await mkdtemp(join(cacheDir, 'fresh-')) };
    const [before, nobody] = await Promise.all([run(['launch', 'autocad'], env), run(['whoami'], env)]);
    expect(before.code).toBe(3);
    // Which gateway: a sign-in through another URL of the same gateway does not count.
    expect(before.stderr).toContain(`Not signed in to ${gateway.url}: run \`flexgate signin\` first.`);
    expect(nobody.code).toBe(0);
    expect(nobody.stdout).toMatch(/^Not signed in to http/);

    const signin = await run(['signin', '--user', 'bea@example.com'], { ...env, FLEXGATE_PASSWORD: 'correct horse' });
    expect(signin.code).toBe(0);
    expect(signin.stdout).toMatch(/Signed in as bea@example.com/);

    const launch = await run(['launch', 'autocad'], env);
    expect(launch.code).toBe(0);
    expect(launch.stdout).toMatch(/Granted AutoCAD by flex \(team Demo Architects\)\./);
    expect(launch.stdout).toMatch(/tokens charged: 7/);
    expect(launch.stdout).toMatch(/session ends:/);

    const json = await run(['launch', 'autocad', '--json'], env);
    expect(json.code).toBe(0);
    // Instants are printed with the formatter the package exports (the demo prints with it too).
    expect(launch.stdout).toContain(`session ends:   ${formatInstant(JSON.parse(json.stdout).sessionEnd)}\n`);
    expect(JSON.parse(json.stdout)).toMatchObject({
      granted: true,
      fromCache: true,
      charged: 0,
      team: 'team-1',
      claims: { product: 'autocad', productName: 'AutoCAD', team: 'team-1', teamName: 'Demo Architects' },
    });

    const unknown = await run(['launch', 'nope', '--json'], env);
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ granted: false, code: 'unknown-product' });

    const who = await run(['whoami', '--json'], env);
    expect(JSON.parse(who.stdout)).toMatchObject({ signedIn: true, autodeskId: 'bea@example.com' });
  }, 30_000);

  it('names the product and the team, from the entitlement; key and team id for entitlements without names', async () => {
    const env = await signedIn();
    expect((await run(['launch', 'autocad'], env)).code).toBe(0);
    const [cached, who, whoJson] = await Promise.all([
      run(['launch', 'autocad'], env),
      run(['whoami'], env),
      run(['whoami', '--json'], env),
    ]);
    // Offline too: the names are signed into the cached entitlement.
    expect(cached.stdout).toMatch(/^Granted AutoCAD by flex \(team Demo Architects\), from the offline cache\.$/m);
    expect(who.stdout).toMatch(/^ {2}AutoCAD \(autocad\): flex, team Demo Architects, usable offline until \S/m);
    expect(JSON.parse(whoJson.stdout).entitlements).toEqual([
      expect.objectContaining({ product: 'autocad', productName: 'AutoCAD', source: 'flex', team: 'team-1', teamName: 'Demo Architects' }),
    ]);

    gateway.signNames = false; // as a gateway from before the names
    try {
      const old = await run(['launch', 'autocad', '--fresh'], env);
      expect(old.stdout).toMatch(/^Granted autocad by flex \(team team-1\)\.$/m);
      const oldWho = await run(['whoami'], env);
      expect(oldWho.stdout).toMatch(/^ {2}autocad: flex, team team-1, usable offline until \S/m);
    } finally {
      gateway.signNames = true;
    }
  }, 30_000);

  it('signin pins the root key on first use and says so; a configured trust always wins', async () => {
    const env = { FLEXGATE_URL: gateway.url, FLEXGATE_CACHE_DIR: join(cacheDir, 'tofu'), FLEXGATE_PASSWORD: 'correct horse' };
    const first = await run(['signin', '--user', 'ada@example.com'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`Pinned the gateway's root key ${gateway.root.thumbprint} (trust on first use)`);
    const again = await run(['signin', '--user', 'ada@example.com'], env);
    expect(again.stderr).toBe('');
    expect((await run(['launch', 'autocad'], env)).code).toBe(0);

    // The same cache dir pointed at another gateway (staging, say): that gateway's own root is
    // pinned, never the first one's, which would refuse everything it signs.
    const staging = await startStubGateway(() => new Date());
    try {
      const there = await run(['signin', '--user', 'ada@example.com'], { ...env, FLEXGATE_URL: staging.url });
      expect(there.code, there.stderr).toBe(0);
      expect(there.stderr).toContain(`Pinned the gateway's root key ${staging.root.thumbprint} (trust on first use)`);
      expect((await run(['launch', 'autocad'], { ...env, FLEXGATE_URL: staging.url })).code).toBe(0);
    } finally {
      await staging.stop();
    }
    expect((await run(['signin', '--user', 'ada@example.com'], env)).code).toBe(0);

    // Another root configured: the pin does not overrule it, so nothing this gateway signed is believed.
    const other = (await makeRoot()).thumbprint;
    const cached = await run(['launch', 'autocad', '--json'], { ...env, FLEXGATE_TRUST: other });
    expect(cached.code).toBe(3);
    expect(JSON.parse(cached.stdout)).toMatchObject({ granted: false, code: 'invalid-entitlement' });
    const signin = await run(['signin', '--user', 'ada@example.com', '--trust', other], env);
    expect(signin.code).toBe(3);
    expect(signin.stderr).toMatch(/root key is not the trusted one/);
    const malformed = await run(['launch', 'autocad', '--trust', 'not-a-key'], env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--trust must be/);
    // Nine CLI processes one after another: on a loaded CI machine they took 30.2 s once (14 s usually).
  }, 60_000);

  it('signin asks for the password on a terminal, without echoing it', async () => {
    // Signed in before, so the root key is pinned already: the prompt is all it prints first.
    const env = await signedIn();
    const typed = await runInTerminal(['signin', '--user', 'ada@example.com'], env, 'Password: ', 'correct horse\r');
    expect(typed.code, typed.screen).toBe(0);
    expect(typed.screen).toMatch(/Signed in as ada@example\.com/);
    expect(typed.screen).not.toContain('correct');
    // Ctrl-C at the prompt stops there, with the status a shell gives an interrupted command.
    const cancelled = await runInTerminal(['signin', '--user', 'ada@example.com'], env, 'Password: ', '\x03');
    expect(cancelled.code, cancelled.screen).toBe(130);
    expect(cancelled.screen).not.toMatch(/Signed in/);
  }, 30_000);

  it('signin reads the password from the first line of standard input, and is a usage error without one', async () => {
    const env = await signedIn();
    const [piped, wrong, none] = await Promise.all([
      run(['signin', '--user', 'ada@example.com', '--json'], env, 'correct horse\nnext line\n'),
      run(['signin', '--user', 'ada@example.com'], env, 'wrong horse\n'),
      run(['signin', '--user', 'ada@example.com'], env),
    ]);
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ autodeskId: 'ada@example.com' });
    expect(piped.stderr).toBe(''); // no prompt: nobody is at a terminal to read it
    // The line read is the one sent to the gateway.
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/Wrong Autodesk ID or password/);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/signin needs a password/);
    expect(none.stderr).toMatch(/^Usage: flexgate signin/m);
  }, 30_000);

  it('runs as a simulated product: heartbeats, then closes and is refunded within 5 minutes', async () => {
    const run_ = await run(['launch', 'autocad', '--fresh', '--run', '--hold', '2', '--heartbeat', '1'], await signedIn());
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
    // The root key as a product embeds it: nothing it vouched for is cached, so nothing launches offline.
    const trusted = { FLEXGATE_URL: deadUrl, FLEXGATE_CACHE_DIR: offlineDir, FLEXGATE_TRUST: gateway.root.thumbprint };
    const dead = await run(['launch', 'autocad'], trusted);
    expect(dead.code).toBe(4);
    expect(dead.stderr).toMatch(/Gateway unreachable: .*ECONNREFUSED.*No offline allowance/);
    const products = await run(['products'], trusted);
    expect(products.code).toBe(4);
    const stranger = await run(['products'], { ...(await signedIn()), FLEXGATE_URL: deadUrl });
    expect(stranger.code).toBe(3); // that sign-in belongs to another gateway
    // A simulation that cannot reach the gateway says so, with the exit code of an outage.
    const simulated = await run(['simulate', '--users', '1', '--launches', '1'], { FLEXGATE_URL: deadUrl });
    expect(simulated.code).toBe(4);
    expect(simulated.stderr).toMatch(/^flexgate: simulate failed: The gateway at http:\/\/127\.0\.0\.1:9 could not be reached/);
  }, 30_000);
});
