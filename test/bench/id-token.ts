/**
 * `node --import tsx test/bench/id-token.ts [tokens] [reps]`: what a first check of one access
 * token costs (`verifyIdToken`), with the key's public half only (an Ed25519 verification) and with
 * both halves, as the key ring holds its own keys (signed again and compared). The two alternate
 * in each rep, on the same tokens, so both see the same phases of the machine; prints µs a token
 * and the ratio of each rep.
 */

import { ID_TOKEN_AUDIENCE, ID_TOKEN_TYP, newEd25519Pair, SIGNING_ALG } from '@flexgate/shared';
import { signCompact } from '../../gateway/src/signing/jws';
import { type IdTokenKey, verifyIdToken } from '../../gateway/src/signing/verify-id-token';

const count = Number(process.argv[2] ?? 4000);
const reps = Number(process.argv[3] ?? 4);
const pair = newEd25519Pair();
const now = Math.floor(Date.now() / 1000);
const tokens = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    signCompact(
      pair.privateKey,
      { alg: SIGNING_ALG, kid: 'k1', typ: ID_TOKEN_TYP },
      { iss: 'flexgate', aud: ID_TOKEN_AUDIENCE, sub: `user${i}@example.com`, iat: now, exp: now + 3600, jti: `idt_${i}` },
    ),
  ),
);
const publicOnly = new Map<string, IdTokenKey>([['k1', { publicKey: pair.publicKey }]]);
const both = new Map<string, IdTokenKey>([['k1', { publicKey: pair.publicKey, privateKey: pair.privateKey }]]);

async function perToken(keys: Map<string, IdTokenKey>): Promise<number> {
  const start = process.hrtime.bigint();
  for (const token of tokens) await verifyIdToken(token, keys, 'flexgate', now);
  return Number(process.hrtime.bigint() - start) / 1000 / count;
}

await perToken(publicOnly);
await perToken(both);
console.log(`${count} tokens a run, ${reps} reps, alternating`);
for (let rep = 0; rep < reps; rep++) {
  // Alternate which goes first, so neither always runs in the warmer half.
  const first = rep % 2 ? publicOnly : both;
  const second = first === both ? publicOnly : both;
  const a = await perToken(first);
  const b = await perToken(second);
  const [verified, signed] = first === both ? [b, a] : [a, b];
  console.log(
    `rep ${rep + 1}: verified ${verified.toFixed(1)} µs, signed again ${signed.toFixed(1)} µs a token: ${(verified / signed).toFixed(2)}x`,
  );
}
