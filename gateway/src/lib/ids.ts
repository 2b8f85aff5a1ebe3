import { randomFillSync } from 'node:crypto';

// Random bytes drawn 4 KiB at a time, as Node does for randomUUID: one call into the CSPRNG per
// ~340 ids, where a call per id showed in cold-launch profiles. The bytes are used once each.
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

/**
 * An id that sorts by creation time, then random (72 bits: still unguessable). For rows written
 * on every cold launch (usage sessions) and indexed by id: a random key dirties a random page of
 * each index that holds it, written to the WAL at every group commit; an ordered key appends to
 * the same last page, which makes a charge's SQL markedly cheaper (BENCHMARKS.md, charge-floor).
 */
export function orderedId(prefix: string): string {
  // Base-36 milliseconds, 9 digits (fixed width, so text order is time order, until year 5188).
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${newId('', 9).slice(1)}`;
}
