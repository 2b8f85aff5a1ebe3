import { readFileSync } from 'node:fs';
import { runLoad } from './load';

const { url, warm, products, cold } = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as { url: string; warm: string[]; products: string[]; cold?: boolean };
let k = 0;
const r = await runLoad(
  url,
  () => {
    // Cold: each (user, product) pair once, so every launch opens a session and charges.
    const i = k++;
    const u = cold ? i % warm.length : Math.floor(Math.random() * warm.length);
    const p = cold ? Math.floor(i / warm.length) % 10 : u % 10;
    return { method: 'POST', path: '/v1/launch', headers: { authorization: `Bearer ${warm[u]}`, 'content-type': 'application/json' }, body: JSON.stringify({ product: products[p] }), expect: [200] };
  },
  { connections: 64, seconds: Number(process.env.SECONDS ?? 8), warmupSeconds: cold ? 0 : 1 },
);
console.error(`${cold ? 'cold' : 'warm'}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}`);
