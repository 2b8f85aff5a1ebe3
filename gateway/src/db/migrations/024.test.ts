import { describe, expect, it } from 'vitest';
import { withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';
import { findRefreshToken, insertRefreshToken, insertRevocation, lastUserRevocation } from '../repos/refresh';

const T = '2026-05-01T00:00:00.000Z';
const row = (hash: string, createdAt: string) => ({
  token_hash: hash,
  family: `fam_${hash}`,
  autodesk_id: 'ann@example.com',
  created_at: createdAt,
  expires_at: '2026-06-01T00:00:00.000Z',
  used_at: null,
});

// Migration 024 orders sign-ins after revocations; refresh tokens written before it (or by a gateway
// from before it during a rolling upgrade) have no order and are judged by time, as they were.
describe.each(['sqlite', 'postgres'] as const)('migration 024 on %s', (engine) => {
  it('a refresh token from before keeps its rule by time; one made after by order, the same instant included', async () => {
    await withDatabaseAt(engine, '023_ledger_chain_required', async (database) => {
      const { db } = database;
      await db
        .insertInto('refresh_tokens')
        .values([row('old', T), row('later', '2026-05-01T00:00:02.000Z')])
        .execute();
      await db
        .insertInto('token_revocations')
        .values({ kind: 'user', subject: 'ann@example.com', at: '2026-05-01T00:00:01.000Z' })
        .execute();
      expect(await migrate(database, '024_sign_in_order')).toEqual(['024_sign_in_order']);
      expect((await findRefreshToken(db, 'old'))?.familyRevoked).toBe(true);
      expect((await findRefreshToken(db, 'later'))?.familyRevoked).toBe(false);

      // A sign-in made now, at the instant of a revocation just committed, comes after it.
      const at = '2026-05-01T00:00:05.000Z';
      const seq = await insertRevocation(db, { kind: 'user', subject: 'ann@example.com', at });
      expect(await lastUserRevocation(db, 'ann@example.com')).toBe(seq);
      expect(await lastUserRevocation(db, 'bob@example.com')).toBe(0);
      await insertRefreshToken(db, { ...row('new', at), signed_in_after: seq });
      expect(await findRefreshToken(db, 'new')).toMatchObject({ signed_in_after: seq, familyRevoked: false });
      // The next revocation ends it.
      await insertRevocation(db, { kind: 'user', subject: 'ann@example.com', at });
      expect((await findRefreshToken(db, 'new'))?.familyRevoked).toBe(true);
    });
  });
});
