/** In-process cost of one warm launch (no network): `tsx test/bench/micro.ts [n]`. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, testConfig } from '@flexgate/gateway';

const n = Number(process.argv[2] ?? 20000);
const dir = mkdtempSync(join(tmpdir(), 'fg-micro-'));
const operatorKey = `op-${randomBytes(8).toString('hex')}`;
const gw = await startGateway(testConfig({ port: 0, databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`, operatorKey, logLevel: 'silent', scryptN: 1024 }));
const call = async (method: string, path: string, token: string | null, body?: unknown) => {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return res.json() as Promise<any>;
};
await call('POST', '/v1/products', operatorKey, { key: 'autocad', name: 'AutoCAD', dailyRate: 7 });
const team = (await call('POST', '/v1/teams', operatorKey, { name: 'T' })).id;
await call('POST', `/v1/teams/${team}/purchases`, operatorKey, { tokens: 1000 });
await call('POST', '/v1/users', operatorKey, { autodeskId: 'a@example.com', name: 'A', password: 'password1' });
await call('POST', `/v1/teams/${team}/members`, operatorKey, { autodeskId: 'a@example.com', products: ['autocad'] });
const { token } = await call('POST', '/v1/signin', null, { autodeskId: 'a@example.com', password: 'password1' });
await call('POST', '/v1/launch', token, { product: 'autocad' });

// In-process through the app's fetch handler, to see the gateway's own cost per request.
const { createApp } = await import('@flexgate/gateway');
void createApp;
const url = `${gw.url}/v1/launch`;
const body = JSON.stringify({ product: 'autocad' });
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  await res.arrayBuffer();
}
const ms = performance.now() - t0;
console.log(`${n} sequential warm launches over loopback: ${(ms / n * 1000).toFixed(0)} us each (client + server in one process)`);
await gw.close();
