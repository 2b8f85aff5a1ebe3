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

/**
 * An id that sorts by creation time, then random (72 bits: still unguessable). For rows written
 * on every cold launch (usage sessions) and indexed by id: a random key lands on a random page of
 * each index that holds it (the table's key, `ledger_by_session`), which a group of charges then
 * reads, dirties and writes to the WAL; an ordered key appends to the same last page. Measured
 * (`node --import tsx test/bench/charge-floor.ts`, groups of 50): a charge's SQL costs 54-55 µs
 * with random session ids against 36-39 µs time-ordered.
 */
export function orderedId(prefix: string): string {
  // Base-36 milliseconds, 9 digits (fixed width, so text order is time order, until year 5188).
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${newId('', 9).slice(1)}`;
}
