import * as crypto from 'node:crypto';
import type { LedgerEntry } from './wire';

/**
 * The ledger's hash chain, the one definition the gateway writes by and the client checks by
 * (docs/ledger.md states the same rule for customers' own tools). Pure: values in, values out.
 */

/** What the first entry of every team chains from. */
export const GENESIS_HASH = '0'.repeat(64);

/** JOSE `typ` of a signed ledger checkpoint. */
export const CHECKPOINT_TYP = 'flexgate-ledger-checkpoint+jwt';

/** What a checkpoint JWS says: the team's chain as of `at` (`lastId` 0 and the genesis hash when empty). */
export interface LedgerCheckpointClaims {
  iss: string;
  /** Seconds, as JWTs count. */
  iat: number;
  team: string;
  lastId: number;
  lastHash: string;
  count: number;
  balance: number;
  /** The instant the checkpoint speaks for (ISO 8601, UTC). */
  at: string;
}

/**
 * JSON with object keys sorted recursively (by UTF-16 code units) and no whitespace: RFC 8785's
 * form for the strings, safe integers and nulls a ledger entry holds (`jq -cS` prints the same).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error(`no JSON form for ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** An entry's wire form before its hash is known. */
export type UnhashedEntry = Omit<LedgerEntry, 'hash'>;

/** Lowercase hex SHA-256 of `prevHash`, a newline, and the entry's canonical JSON (every wire field but `hash`). */
export function entryHash(entry: UnhashedEntry): string {
  return sha256Hex(`${entry.prevHash}\n${entryJson(entry)}`);
}

// One call, no Hash object per entry, where the runtime has it (Node 20.12 and later).
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** The fields of an entry's wire form that its hash covers, in canonical (sorted) order. */
const HASHED = ['actor', 'at', 'autodeskId', 'id', 'kind', 'lotId', 'prevHash', 'product', 'reason', 'sessionId', 'tokens'] as const;
const HASHED_SET = new Set<string>(HASHED);

/**
 * `canonicalJson` of an entry without its `hash`. The gateway hashes every entry it appends, and
 * sorting the keys of each one was most of what the chain cost a cold launch: an entry of exactly
 * the wire fields is written in their known order, each value by `canonicalJson`; anything else
 * (an unknown or a missing field) takes the general form. ledger.test.ts proves both agree.
 */
export function entryJson(entry: UnhashedEntry): string {
  const e = entry as UnhashedEntry & { hash?: unknown };
  let fields = 0;
  for (const k in e) {
    if (k === 'hash') continue;
    if (!HASHED_SET.has(k) || !isScalar(e[k as keyof UnhashedEntry])) return generalJson(e);
    fields++;
  }
  if (fields !== HASHED.length) return generalJson(e);
  // Keys in HASHED's (sorted) order and scalar values: one JSON.stringify writes canonicalJson's form.
  return JSON.stringify({
    actor: e.actor,
    at: e.at,
    autodeskId: e.autodeskId,
    id: e.id,
    kind: e.kind,
    lotId: e.lotId,
    prevHash: e.prevHash,
    product: e.product,
    reason: e.reason,
    sessionId: e.sessionId,
    tokens: e.tokens,
  });
}

/** What canonicalJson writes as JSON.stringify does: a string, a safe integer, null. */
const isScalar = (v: unknown): boolean => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));

function generalJson(entry: UnhashedEntry & { hash?: unknown }): string {
  const { hash: _, ...body } = entry;
  return canonicalJson(body);
}

/** Where a chain stops holding: the entry, its position (1 = the team's first) and what was expected there. */
export interface ChainBreak {
  id: number;
  position: number;
  field: 'prevHash' | 'hash';
  expected: string;
  found: string;
}

export interface ChainSummary {
  count: number;
  lastId: number;
  lastHash: string;
  /** The sum of the entries' tokens: the balance they add up to. */
  total: number;
}

/**
 * Walks a team's entries, oldest first, from `start` (what the entry before the first one hashed
 * to: the genesis hash for a whole ledger). Stops at the first entry that does not chain.
 */
export function verifyChain(
  entries: Iterable<LedgerEntry>,
  start: ChainSummary = { count: 0, lastId: 0, lastHash: GENESIS_HASH, total: 0 },
): { ok: true; summary: ChainSummary } | { ok: false; summary: ChainSummary; break: ChainBreak } {
  const s = { ...start };
  for (const e of entries) {
    const position = s.count + 1;
    if (e.prevHash !== s.lastHash) {
      return { ok: false, summary: s, break: { id: e.id, position, field: 'prevHash', expected: s.lastHash, found: e.prevHash } };
    }
    const expected = entryHash(e);
    if (e.hash !== expected) return { ok: false, summary: s, break: { id: e.id, position, field: 'hash', expected, found: e.hash } };
    s.count = position;
    s.lastId = e.id;
    s.lastHash = e.hash;
    s.total += e.tokens;
  }
  return { ok: true, summary: s };
}
