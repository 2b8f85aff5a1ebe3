/**
 * In-process cost of one warm launch, /healthz and the launch's facts alone: `node --import tsx test/bench/micro.ts [nocache]`.
 * In-process means `app.fetch`: the general middleware path, not the launch lane the server puts in front.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createApp, migrate, testConfig } from '@flexgate/gateway';
import { loadFacts } from '../../gateway/src/launch/facts';
import { createLaunchStore } from '../../gateway/src/launch/store';
import { systemClock } from '../../gateway/src/lib/clock';
import { jsonLogger } from '../../gateway/src/lib/logger';
import { KeyRing } from '../../gateway/src/signing/keyring';

const dir = mkdtempSync(join(tmpdir(), 'fg-m2-'));
const url = `sqlite:${join(dir, 'db.sqlite')}`;
const config = testConfig({
  databaseUrl: url,
  operatorKey: 'op-key-0123456789abcdef',
  logLevel: 'silent',
  scryptN: 1024,
  rateLimit: false,
});
const database = connect({ url });
await migrate(database);
const keys = new KeyRing(database.db, systemClock, { issuer: 'flexgate', idTokenTtlSeconds: 3600 });
await keys.init();
const useCache = process.argv[2] !== 'nocache';
const store = createLaunchStore(database, url, { groupMax: 256, now: () => new Date(), logger: jsonLogger('silent') });
const app = createApp({
  config: { ...config, launchCache: useCache ? 50_000 : 0 },
  database,
  clock: systemClock,
  testClock: null,
  keys,
  logger: jsonLogger('silent'),
  store,
});
const op = { authorization: 'Bearer op-key-0123456789abcdef', 'content-type': 'application/json' };
const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
  (
    await app.fetch(new Request(`http://x${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined }))
  ).json() as Promise<any>;
await call('POST', '/v1/products', op, { key: 'autocad', name: 'AutoCAD', dailyRate: 7 });
const team = (await call('POST', '/v1/teams', op, { name: 'T' })).id;
await call('POST', `/v1/teams/${team}/purchases`, op, { tokens: 1000 });
await call('POST', '/v1/users', op, { autodeskId: 'a@example.com', name: 'A', password: 'password1' });
await call('POST', `/v1/teams/${team}/members`, op, { autodeskId: 'a@example.com', products: ['autocad'] });
const [invitation] = await call('GET', '/v1/outbox?to=a@example.com', op);
const link = new URL(/^Link: (\S+)$/m.exec(invitation.text)?.[1] as string);
await call('POST', '/v1/invitations/accept', op, { token: link.searchParams.get('token'), password: 'password1' });
const { token } = await call(
  'POST',
  '/v1/signin',
  { 'content-type': 'application/json' },
  { autodeskId: 'a@example.com', password: 'password1' },
);
const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
console.log((await call('POST', '/v1/launch', h, { product: 'autocad' })).charged);
for (const [label, path, body] of [
  ['warm launch', '/v1/launch', { product: 'autocad' }],
  ['refused', '/v1/launch', { product: 'nope' }],
] as const) {
  const n = 5000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await (await app.fetch(new Request(`http://x${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) }))).arrayBuffer();
  console.log(label, (((performance.now() - t0) / n) * 1000).toFixed(0), 'us per request in-process', useCache ? 'warm cache' : 'no cache');
}
{
  const n = 5000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await (await app.fetch(new Request('http://x/healthz'))).arrayBuffer();
  console.log('healthz', (((performance.now() - t0) / n) * 1000).toFixed(0), 'us');
  t0 = performance.now();
  for (let i = 0; i < n; i++)
    await loadFacts(database.db, [{ autodeskId: 'a@example.com', product: 'autocad', team: undefined }], new Date());
  console.log('loadFacts (one launch)', (((performance.now() - t0) / n) * 1000).toFixed(1), 'us');
  t0 = performance.now();
  for (let i = 0; i < n; i++)
    await (
      await app.fetch(
        new Request('http://x/v1/launch', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"product":"autocad"}',
        }),
      )
    ).arrayBuffer();
  console.log('launch without token (401)', (((performance.now() - t0) / n) * 1000).toFixed(0), 'us');
  t0 = performance.now();
  for (let i = 0; i < n; i++) await keys.verifyIdToken(token);
  console.log('verifyIdToken cached', (((performance.now() - t0) / n) * 1000).toFixed(1), 'us');
}
