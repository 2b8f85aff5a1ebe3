import { describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/harness/db';
import { connect } from '../db/connect';
import { migrate } from '../db/migrate';
import { insertRevocation } from '../db/repos/refresh';
import { Revocations } from './revocations';

const AT = '2026-12-01T09:00:02.500Z';
const second = Math.floor(Date.parse(AT) / 1000);
const token = (claims: { rev?: number; iat?: number; fam?: string; sub?: string } = {}) => ({
  sub: 'ann@example.com',
  iat: second,
  ...claims,
});

describe('an operator revocation ends the sign-ins made before it, by order', () => {
  it('a token whose sign-in came after the revocation lives, in the same second; one from before is refused', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 7 });
    expect(r.isRevoked(token({ rev: 7 }))).toBe(false);
    expect(r.isRevoked(token({ rev: 6 }))).toBe(true);
    expect(r.isRevoked(token({ rev: 0 }))).toBe(true);
    // Another user's revocation ends nothing of Ann's.
    expect(r.isRevoked(token({ sub: 'bob@example.com', rev: 0 }))).toBe(false);
  });

  it('the last revocation decides, whichever order they are applied in', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 9 });
    r.apply({ kind: 'user', subject: 'ann@example.com', at: '2026-12-01T09:00:01.000Z', seq: 4 });
    expect(r.isRevoked(token({ rev: 4 }))).toBe(true);
    expect(r.isRevoked(token({ rev: 9 }))).toBe(false);
  });

  it('a token without a sign-in order, as an older gateway made it, is judged by its second', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'user', subject: 'ann@example.com', at: AT, seq: 7 });
    expect(r.isRevoked(token({ iat: second }))).toBe(true);
    expect(r.isRevoked(token({ iat: second + 1 }))).toBe(false);
  });

  it('a signed-out family is refused whatever its order', () => {
    const r = new Revocations(600_000);
    r.apply({ kind: 'family', subject: 'fam_1', at: AT, seq: 3 });
    expect(r.isRevoked(token({ fam: 'fam_1', rev: 99 }))).toBe(true);
    expect(r.isRevoked(token({ fam: 'fam_2', rev: 0 }))).toBe(false);
  });
});

// On PostgreSQL a revocation's seq is taken at its insert and read at its commit: one may commit
// after a greater one was read. Every instance must still come to refuse its tokens.
describe('the poll of revocations on postgres', () => {
  it('reads a revocation that committed after a later one was read', async () => {
    const store = await freshDatabase('postgres');
    const database = connect({ url: store.url });
    try {
      await migrate(database);
      const { db } = database;
      const at = new Date().toISOString();
      const r = new Revocations(600_000);
      // As a gateway starts: its first read, then one every few seconds.
      await r.poll(db, new Date());
      let late!: () => void;
      const held = new Promise<void>((resolve) => {
        late = resolve;
      });
      let inserted!: () => void;
      const first = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      // Ann's sign-out takes the lower seq and commits last.
      const slow = db.transaction().execute(async (trx) => {
        await insertRevocation(trx, { kind: 'family', subject: 'fam_ann', at });
        inserted();
        await held;
      });
      await first;
      await insertRevocation(db, { kind: 'family', subject: 'fam_bob', at });
      await r.poll(db, new Date());
      expect([r.isRevoked(token({ fam: 'fam_bob' })), r.isRevoked(token({ fam: 'fam_ann' }))]).toEqual([true, false]);
      late();
      await slow;
      await r.poll(db, new Date());
      expect(r.isRevoked(token({ fam: 'fam_ann' }))).toBe(true);
    } finally {
      await database.close();
      await store.drop();
    }
  });
});
