import { describe, expect, it } from 'vitest';
import { migratedDatabase } from '../../../../test/harness/db';
import { inTransaction } from '../tx';
import { answersOf, forgetAnswersBefore, storeAnswer } from './idempotency';

// The hourly upkeep forgets answers older than a day, page by page. What a client relies on: an
// answer younger than that still replays, whichever page its key falls in; an older one is gone.
describe.each(['sqlite', 'postgres'] as const)('forgetting stored answers on %s', (engine) => {
  const database = migratedDatabase(engine);
  const cutoff = '2026-12-02T00:00:00.000Z';
  const save = (scope: string, key: string, createdAt: string) =>
    inTransaction(database().db, (trx) =>
      storeAnswer(trx, { scope, key, fingerprint: 'f', status: 200, body: `{"k":"${key}"}`, createdAt }),
    );

  it('forgets exactly the answers older than the cut, across pages and scopes, and says how many', async () => {
    const keys: { scope: string; key: string; old: boolean }[] = [];
    // Old and young interleaved in key order, so that every page of 7 holds some of each.
    for (let i = 0; i < 60; i++) {
      const k = { scope: `user:u${i % 4}@example.com`, key: `key-${String(i).padStart(3, '0')}`, old: i % 3 !== 0 };
      keys.push(k);
      await save(k.scope, k.key, k.old ? '2026-12-01T12:00:00.000Z' : '2026-12-02T00:00:00.000Z');
    }
    // A key just before the cut is old; one at the cut itself is kept (answers are kept for at least a day).
    await save('team:t1', 'edge-old', '2026-12-01T23:59:59.999Z');
    keys.push({ scope: 'team:t1', key: 'edge-old', old: true });

    expect(await forgetAnswersBefore(database().db, cutoff, 7)).toBe(keys.filter((k) => k.old).length);

    const left = await answersOf(database().db, keys);
    const kept = keys.filter((k) => left.has(`${k.scope}\n${k.key}`));
    expect(kept).toEqual(keys.filter((k) => !k.old));
    expect(left.get('user:u0@example.com\nkey-000')?.body).toBe('{"k":"key-000"}');
    // Nothing older is left: a second sweep finds nothing to forget.
    expect(await forgetAnswersBefore(database().db, cutoff, 7)).toBe(0);
  });
});
