/**
 * `pnpm start`: a gateway with a seeded demo and one simulated launch of each kind, then it keeps
 * serving until Ctrl-C. Everything goes through the real HTTP API, as a product and an admin would;
 * the launches go through the real license-check client (`@flexgate/client`), cached under
 * ./data/demo-cache/<person>.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type FlexgateClient } from '@flexgate/client';
import { loadConfig, startGateway } from '@flexgate/gateway';

const demoDb = './data/demo.db';
const demoCache = './data/demo-cache';
for (const suffix of ['', '-wal', '-shm']) rmSync(demoDb + suffix, { force: true });
// A fresh database has fresh keys: entitlements cached by an earlier run must not be served.
rmSync(demoCache, { recursive: true, force: true });

const operatorKey = process.env.FLEXGATE_OPERATOR_KEY ?? `demo-operator-${randomBytes(8).toString('hex')}`;
const config = loadConfig({
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${demoDb}`,
  FLEXGATE_OPERATOR_KEY: operatorKey,
  FLEXGATE_LOG: process.env.FLEXGATE_LOG ?? 'warn',
});
const gateway = await startGateway(config);
const base = gateway.url;

async function call(method: string, path: string, body?: unknown, token = operatorKey): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const catalog = [
  { key: 'autocad', name: 'AutoCAD', dailyRate: 7 },
  { key: 'revit', name: 'Revit', dailyRate: 10 },
  { key: 'civil-3d', name: 'Civil 3D', dailyRate: 11 },
  { key: 'maya', name: 'Maya', dailyRate: 9 },
  { key: '3ds-max', name: '3ds Max', dailyRate: 9 },
  { key: 'inventor', name: 'Inventor Professional', dailyRate: 10 },
  { key: 'fusion', name: 'Fusion', dailyRate: 4 },
];
for (const p of catalog) await call('POST', '/v1/products', p);
const team = await call('POST', '/v1/teams', { name: 'Demo Architects' });
const lot = await call('POST', `/v1/teams/${team.id}/purchases`, { tokens: 500 });
const admin = await call('POST', '/v1/admins', { name: 'Dana Admin', email: 'dana@demo.flexgate', teams: [team.id] });

const people = {
  flex: { autodeskId: 'flo@demo.flexgate', name: 'Flo Flex', password: 'flex-demo-pass' },
  subscriber: { autodeskId: 'sam@demo.flexgate', name: 'Sam Subscriber', password: 'subs-demo-pass' },
  trial: { autodeskId: 'tia@demo.flexgate', name: 'Tia Trial', password: 'trial-demo-pass' },
};
for (const p of Object.values(people)) await call('POST', '/v1/users', p);
for (const p of Object.values(people)) {
  await call('POST', `/v1/teams/${team.id}/members`, { autodeskId: p.autodeskId, products: ['autocad', 'revit'] });
}
const inAYear = new Date(Date.now() + 365 * 86400_000).toISOString();
const inTwoWeeks = new Date(Date.now() + 14 * 86400_000).toISOString();
await call('POST', '/v1/subscriptions', { autodeskId: people.subscriber.autodeskId, product: 'revit', endsAt: inAYear });
await call('POST', '/v1/trials', { autodeskId: people.trial.autodeskId, product: 'revit', endsAt: inTwoWeeks });

const local = (iso: string) => new Date(iso).toLocaleString();
// Each simulated person runs the real license-check client, with its own cache on disk.
const clients: FlexgateClient[] = [];
async function clientFor(who: keyof typeof people): Promise<FlexgateClient> {
  const person = people[who];
  const client = createClient({ gatewayUrl: base, cacheDir: join(demoCache, who), machine: 'demo-workstation' });
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
  parts.push(r.sessionEnd ? `session ends ${local(r.sessionEnd)}` : `entitlement valid until ${local(r.expiresAt)}`);
  if (r.fromCache) parts.push('from the offline cache, no network');
  console.log(`  ✓ ${person.name} → ${name}: ${parts.join(', ')}`);
}

console.log(`\nflexgate demo: team "${team.name}" (${team.id}) bought ${lot.tokens} tokens, valid until ${local(lot.expiresAt)}\n`);
console.log('Simulated launches:');
const flo = await clientFor('flex');
await launch(flo, 'flex', 'autocad');
await launch(flo, 'flex', 'autocad');
await launch(await clientFor('subscriber'), 'subscriber', 'revit');
await launch(await clientFor('trial'), 'trial', 'revit');
await launch(flo, 'flex', 'maya');
for (const c of clients) await c.close();

console.log(`
flexgate listening on ${base} (${gateway.database.engine}, ${config.databaseUrl})
  operator key   ${operatorKey}
  admin key      ${admin.key}   (team ${team.id})
  Flex user      ${people.flex.autodeskId} / ${people.flex.password}
  subscriber     ${people.subscriber.autodeskId} / ${people.subscriber.password}   (Revit subscription)
  trial user     ${people.trial.autodeskId} / ${people.trial.password}   (Revit trial)

Try:
  curl -s ${base}/v1/teams/${team.id}/balance -H 'authorization: Bearer ${admin.key}'
  curl -s ${base}/v1/teams/${team.id}/ledger -H 'authorization: Bearer ${admin.key}'
  curl -s ${base}/.well-known/jwks.json
  FLEXGATE_URL=${base} FLEXGATE_CACHE_DIR=${join(demoCache, 'flex')} node client/bin/flexgate.js launch revit
Ctrl-C stops it.`);

const stop = () => gateway.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
