/**
 * `pnpm start`: a gateway with a seeded demo and one simulated launch of each kind, then it keeps
 * serving until Ctrl-C. Everything goes through the real HTTP API, as a product and an admin would;
 * the launches go through the real license-check client (`@flexgate/client`).
 *
 * Each run has a folder of its own (database and client caches), removed when it stops, so a
 * second demo never touches the first one's files; when port 8787 is taken it serves on another.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FlexgateClient, formatInstant } from '@flexgate/client';
import { ConfigError, loadConfig, type RunningGateway, startGateway } from '@flexgate/gateway';

const DEFAULT_PORT = 8787;

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A problem the operator can fix (a variable, the port, the database): one line each, exit 2, as the gateway does. */
function fail(problems: readonly string[]): never {
  rmSync(folder, { recursive: true, force: true });
  for (const p of problems) process.stderr.write(`flexgate demo: ${p}\n`);
  process.exit(2);
}

const folder = mkdtempSync(join(tmpdir(), 'flexgate-demo-'));
let gateway: RunningGateway | null = null;
let stopping = false;
/** Ctrl-C (a key in raw mode, or SIGINT) and SIGTERM: close the gateway, remove the run's folder, exit 0. */
async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    await gateway?.close().catch(() => {});
    rmSync(folder, { recursive: true, force: true });
    if (code === 0) process.stdout.write('\nflexgate demo stopped; its database and caches are removed.\n');
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const operatorKey = process.env.FLEXGATE_OPERATOR_KEY ?? `demo-operator-${randomBytes(8).toString('hex')}`;
const host = process.env.HOST ?? '127.0.0.1';
// An explicit PORT is the operator's choice and must be free; the default moves aside for another demo.
let port = process.env.PORT ?? String(DEFAULT_PORT);
let movedFrom: string | null = null;
if (process.env.PORT === undefined && !(await portFree(DEFAULT_PORT, host))) {
  movedFrom = port;
  port = '0';
}
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({
    ...process.env,
    PORT: port,
    DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${join(folder, 'demo.db')}`,
    FLEXGATE_OPERATOR_KEY: operatorKey,
    FLEXGATE_LOG: process.env.FLEXGATE_LOG ?? 'warn',
    // The demo's keys are sealed like a real deployment's; its KEK lives as long as its database.
    FLEXGATE_KEK: process.env.FLEXGATE_KEK ?? randomBytes(32).toString('base64url'),
  });
} catch (error) {
  if (error instanceof ConfigError) fail(error.problems);
  throw error;
}
try {
  gateway = await startGateway(config);
} catch (error) {
  if (error instanceof ConfigError) fail(error.problems);
  throw error;
}
const base = gateway.url;

async function call<T>(method: string, path: string, body?: unknown, token = operatorKey): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// Subscription prices and the token price are illustrative figures in cents of USD (the default
// FLEXGATE_CURRENCY), for the console's Spend and Advice pages; the rates are Autodesk's.
const catalog = [
  { key: 'autocad', name: 'AutoCAD', dailyRate: 7, subscriptionPricePerYear: 225_000 },
  { key: 'revit', name: 'Revit', dailyRate: 10, subscriptionPricePerYear: 315_000 },
  { key: 'civil-3d', name: 'Civil 3D', dailyRate: 11, subscriptionPricePerYear: 325_000 },
  { key: 'maya', name: 'Maya', dailyRate: 9, subscriptionPricePerYear: 195_000 },
  { key: '3ds-max', name: '3ds Max', dailyRate: 9, subscriptionPricePerYear: 195_000 },
  { key: 'inventor', name: 'Inventor Professional', dailyRate: 10, subscriptionPricePerYear: 245_000 },
  { key: 'fusion', name: 'Fusion', dailyRate: 4, subscriptionPricePerYear: 68_000 },
];
for (const p of catalog) await call('POST', '/v1/products', p);
const team = await call<{ id: string; name: string }>('POST', '/v1/teams', { name: 'Demo Architects' });
const lot = await call<{ tokens: number; expiresAt: string }>('POST', `/v1/teams/${team.id}/purchases`, {
  tokens: 500,
  pricePerToken: 300,
});
const admin = await call<{ key: string }>('POST', '/v1/admins', { name: 'Dana Admin', email: 'dana@demo.flexgate', teams: [team.id] });

const people = {
  flex: { autodeskId: 'flo@demo.flexgate', name: 'Flo Flex', password: 'flex-demo-pass' },
  subscriber: { autodeskId: 'sam@demo.flexgate', name: 'Sam Subscriber', password: 'subs-demo-pass' },
  trial: { autodeskId: 'tia@demo.flexgate', name: 'Tia Trial', password: 'trial-demo-pass' },
};
for (const p of Object.values(people)) await call('POST', '/v1/users', p);
for (const p of Object.values(people)) {
  await call('POST', `/v1/teams/${team.id}/members`, { autodeskId: p.autodeskId, products: ['autocad', 'revit'] });
  // Each person accepts the invitation the gateway e-mailed them (the outbox holds it: no SMTP here).
  const mails = await call<{ kind: string; text: string }[]>('GET', `/v1/outbox?to=${encodeURIComponent(p.autodeskId)}`);
  const link = /^Link: (\S+)$/m.exec(mails.filter((m) => m.kind === 'invitation').at(-1)?.text ?? '')?.[1] ?? '';
  await call('POST', '/v1/invitations/accept', { token: new URL(link).searchParams.get('token'), password: p.password });
}
const inAYear = new Date(Date.now() + 365 * 86400_000).toISOString();
const inTwoWeeks = new Date(Date.now() + 14 * 86400_000).toISOString();
await call('POST', '/v1/subscriptions', { autodeskId: people.subscriber.autodeskId, product: 'revit', endsAt: inAYear });
await call('POST', '/v1/trials', { autodeskId: people.trial.autodeskId, product: 'revit', endsAt: inTwoWeeks });

const cacheOf = (who: keyof typeof people) => join(folder, 'cache', who);
// The root key's RFC 7638 thumbprint (its kid): what a product would embed.
const rootThumbprint = gateway.keys.rootJwk.kid;
// Each simulated person runs the real license-check client, with its own cache on disk.
const clients: FlexgateClient[] = [];
async function clientFor(who: keyof typeof people): Promise<FlexgateClient> {
  const person = people[who];
  // Configured with the root key as a product embeds it: the client trusts nothing else.
  const client = createClient({ gatewayUrl: base, trust: rootThumbprint, cacheDir: cacheOf(who), machine: 'demo-workstation' });
  clients.push(client);
  await client.signIn(person.autodeskId, person.password);
  return client;
}
async function launch(client: FlexgateClient, who: keyof typeof people, product: string) {
  const person = people[who];
  const r = await client.launch(product);
  const name = catalog.find((p) => p.key === product)?.name;
  if (!r.granted) {
    console.log(`  ✗ ${person.name} → ${name}: refused (${r.code}) ${r.reason}`);
    return;
  }
  const parts = [`source ${r.provisional ? 'provisional' : r.source}`, `charged ${r.charged} tokens`];
  if (r.balance !== null) parts.push(`balance ${r.balance}`);
  parts.push(r.sessionEnd ? `session ends ${formatInstant(r.sessionEnd)}` : `entitlement valid until ${formatInstant(r.expiresAt)}`);
  if (r.fromCache) parts.push('from the offline cache, no network');
  console.log(`  ✓ ${person.name} → ${name}: ${parts.join(', ')}`);
}

console.log(`\nflexgate demo: team "${team.name}" bought ${lot.tokens} tokens, valid until ${formatInstant(lot.expiresAt)}\n`);
console.log('Simulated launches:');
const flo = await clientFor('flex');
await launch(flo, 'flex', 'autocad');
await launch(flo, 'flex', 'autocad');
await launch(await clientFor('subscriber'), 'subscriber', 'revit');
await launch(await clientFor('trial'), 'trial', 'revit');
await launch(flo, 'flex', 'maya');
for (const c of clients) await c.close();

const moved = movedFrom ? `\n(port ${movedFrom} is in use, by another demo or gateway: this one serves on ${gateway.port})` : '';
console.log(`
flexgate listening on ${base} (${gateway.database.engine}; this run's files in ${folder})${moved}

Admin console  ${base}/console
  sign in with the admin key  ${admin.key}   (team "${team.name}")
Operator key   ${operatorKey}
Flex user      ${people.flex.autodeskId} / ${people.flex.password}
subscriber     ${people.subscriber.autodeskId} / ${people.subscriber.password}   (Revit subscription)
trial user     ${people.trial.autodeskId} / ${people.trial.password}   (Revit trial)

Root key       ${rootThumbprint}   (clients trust only the signing keys it vouches for)

Try, in another terminal:
  FLEXGATE_URL=${base} FLEXGATE_TRUST=${rootThumbprint} FLEXGATE_CACHE_DIR=${cacheOf('flex')} pnpm exec flexgate launch revit
  curl -s ${base}/v1/teams/${team.id}/balance -H 'authorization: Bearer ${admin.key}'
  curl -s ${base}/.well-known/flexgate-keys   (the key set, signed by the root key)
Ctrl-C stops it.`);

// In a terminal, Ctrl-C is read as a key (raw mode) rather than sent as SIGINT to the whole process
// group: pnpm, which runs this script, reports an interrupted script as a failure (ELIFECYCLE).
if (process.stdin.isTTY) {
  process.stdin.setRawMode(true);
  process.stdin.on('data', (key) => {
    // Ctrl-C, Ctrl-D, q
    if (key[0] === 0x03 || key[0] === 0x04 || key.toString() === 'q') void stop();
  });
}
