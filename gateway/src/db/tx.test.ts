import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from './connect';
import { type RetryReason, RetryTransaction } from './errors';
import { inTransaction, observeRetries } from './tx';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('inTransaction tells its observer each start-over, by reason', () => {
  const one = connect({ url: 'sqlite::memory:' });
  const other = connect({ url: 'sqlite::memory:' });
  const seen: RetryReason[] = [];
  const seenByOther: RetryReason[] = [];
  observeRetries(one.db, { retried: (reason) => seen.push(reason) });
  observeRetries(other.db, { retried: (reason) => seenByOther.push(reason) });
  afterAll(async () => {
    await one.close();
    await other.close();
  });

  it('one report per attempt started over, none for the attempt that commits or an error no retry cures', async () => {
    seen.length = 0;
    const lost = [
      new RetryTransaction('lot changed'),
      coded('SQLITE_CONSTRAINT_UNIQUE'),
      coded('40P01'),
      coded('40001'),
      coded('SQLITE_BUSY'),
      coded('23505'),
    ];
    let attempt = 0;
    const answer = await inTransaction(one.db, async (trx) => {
      const error = lost[attempt++];
      if (error) throw error;
      return (await sql<{ n: number }>`select 1 as n`.execute(trx)).rows[0]?.n;
    });
    expect(answer).toBe(1);
    expect(seen).toEqual(['lost-race', 'unique', 'deadlock', 'serialization', 'busy', 'unique']);
    await expect(inTransaction(one.db, async () => Promise.reject(coded('SQLITE_CONSTRAINT_NOTNULL')))).rejects.toThrow();
    expect(seen).toHaveLength(lost.length);
  });

  it('the last attempt is not started over, so not reported; another Kysely instance reports to its own observer', async () => {
    seen.length = 0;
    seenByOther.length = 0;
    await expect(inTransaction(other.db, async () => Promise.reject(coded('40P01')), 3)).rejects.toThrow('40P01');
    expect(seenByOther).toEqual(['deadlock', 'deadlock']);
    expect(seen).toEqual([]);
  });
});
