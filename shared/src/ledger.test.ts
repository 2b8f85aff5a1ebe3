import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson, entryHash, entryJson, GENESIS_HASH, type UnhashedEntry, verifyChain } from './ledger';
import type { LedgerEntry } from './wire';

const doc = readFileSync(new URL('../../docs/ledger.md', import.meta.url), 'utf8');
/** The example of docs/ledger.md: the first ```json block. */
const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? '[]') as LedgerEntry[];

describe('the ledger hash chain (R5, docs/ledger.md)', () => {
  it('canonical JSON sorts keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: null, c: 'x"y' }, e: [2, { g: 1, f: 0 }] })).toBe(
      '{"a":{"c":"x\\"y","d":null},"b":1,"e":[2,{"f":0,"g":1}]}',
    );
    expect(() => canonicalJson({ n: 1.5 })).toThrow(/safe integer/);
  });

  it("the documented example's hashes are what the rule computes, and its canonical line is the one shown", () => {
    expect(example).toHaveLength(2);
    expect(example[0]?.prevHash).toBe(GENESIS_HASH);
    for (const e of example) expect(entryHash(e)).toBe(e.hash);
    const { hash: _, ...first } = example[0] as LedgerEntry;
    expect(doc).toContain(`\n${canonicalJson(first)}\n`);
    expect(verifyChain(example)).toMatchObject({ ok: true, summary: { count: 2, lastId: 2, total: 93 } });
  });

  it('a changed amount, a removed entry and a swapped pair are each found at the entry where the chain stops holding', () => {
    const [a, b] = example as [LedgerEntry, LedgerEntry];
    expect(verifyChain([a, { ...b, tokens: -1 }])).toMatchObject({
      ok: false,
      break: { id: 2, position: 2, field: 'hash', found: b.hash },
    });
    expect(verifyChain([b])).toMatchObject({ ok: false, break: { id: 2, position: 1, field: 'prevHash', expected: GENESIS_HASH } });
    expect(verifyChain([b, a])).toMatchObject({ ok: false, break: { position: 1, field: 'prevHash' } });
  });

  it('the entry writer the gateway hashes with gives canonical JSON for any entry, odd strings, nulls, extra or missing fields and values no entry holds included', () => {
    // A seeded generator: the same 3,000 entries every run, so a failure names one that can be replayed.
    let seed = 0x5eed;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    const pieces = ['a', 'Z', '"', '\\', '\n', '\u0000', '\u001f', 'é', '€', '😀', '\ud800', '\udfff', '</script>', ' ', ':', ','];
    const text = () => Array.from({ length: Math.floor(next() * 12) }, () => pick(pieces)).join('');
    const int = () => pick([0, 1, -1, 7, -300, 2 ** 53 - 1, -(2 ** 53 - 1), Math.floor(next() * 1e9)]);
    const orNull = (v: () => string) => (next() < 0.3 ? null : v());
    for (let n = 0; n < 3000; n++) {
      const entry: Record<string, unknown> = {
        id: int(),
        at: text(),
        kind: pick(['purchase', 'charge', 'refund', 'transfer-out', 'transfer-in', 'expiry']),
        tokens: int(),
        lotId: text(),
        actor: text(),
        autodeskId: orNull(text),
        product: orNull(text),
        sessionId: orNull(text),
        reason: text(),
        prevHash: text(),
      };
      if (next() < 0.2) entry.hash = text();
      if (next() < 0.05) entry[pick(['extra', 'Z', 'aa', ''])] = text();
      if (next() < 0.05) delete entry[pick(Object.keys(entry))];
      if (next() < 0.03) entry.reason = undefined;
      // Values no entry should hold: written alike (an object, a boolean) or refused alike (not a safe integer).
      if (next() < 0.03) entry[pick(['tokens', 'id', 'reason'])] = pick([1.5, 2 ** 60, -0.5, true, { b: 1, a: 'é' }, [2, 'x']]);
      const { hash: _, ...body } = entry;
      let canonical: string;
      try {
        canonical = canonicalJson(body);
      } catch {
        expect(() => entryJson(entry as unknown as UnhashedEntry), JSON.stringify(entry)).toThrow(/not a safe integer/);
        continue;
      }
      expect(entryJson(entry as unknown as UnhashedEntry), JSON.stringify(entry)).toBe(canonical);
    }
  });
});
