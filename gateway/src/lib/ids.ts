import { randomFillSync } from 'node:crypto';

// Random bytes drawn 4 KiB at a time: one call into the CSPRNG per ~340 ids instead of one per id
// (randomBytes per id showed at 5% of a cold launch's CPU in the issue 7 profile), as Node does
// for randomUUID. The bytes are used once each.
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** Opaque, unguessable ids with a readable prefix (`tm_`, `lot_`, `ses_`...). */
export function newId(prefix: string, bytes = 12): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = `${prefix}_${pool.toString('base64url', offset, offset + bytes)}`;
  offset += bytes;
  return id;
}
