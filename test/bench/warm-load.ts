import { readFileSync } from 'node:fs';
import { runLoad } from './load';
import { requestsOf } from './workloads';

const { url, warm, products, cold } = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as {
  url: string;
  warm: string[];
  products: string[];
  cold?: boolean;
};
// Cold: each (user, product) pair once, so every launch opens a session and charges.
const launches = { tokens: warm, products };
const r = await runLoad(url, requestsOf(cold ? { kind: 'cold', launches } : { kind: 'warm', launches }), {
  connections: Number(process.env.CONNECTIONS ?? 64),
  seconds: Number(process.env.SECONDS ?? 8),
  warmupSeconds: cold ? 0 : 1,
  fresh: process.env.FRESH === '1',
});
console.error(`${cold ? 'cold' : 'warm'}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}`);
