import { searchFold } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { freshDatabase, withDatabaseAt } from '../../../../test/harness/db';
import { connect } from '../connect';
import { migrate } from '../migrate';
import { listMembers } from '../repos/members';
import type { DB, MembersTable } from '../schema';

const T = '2026-05-01T00:00:00.000Z';

/** The schema as it was at 026: members had no `name_fold` yet. */
type DB026 = Omit<DB, 'members'> & { members: Omit<MembersTable, 'name_fold'> };

/** Names the search folds in every way it does: accents and case, decomposed, final sigma, capital sharp s. */
const NAMES = ['ÉLODIE Martin', 'Chloe\u0301 Nfd', 'ΣΊΣΥΦΟΣ Greek', 'GROẞ Straße', 'İnci Dağ', 'Bob 100% Sure', 'plain ascii'];

/** `n` members of each of two teams, the odd names of NAMES first: more than one of the migration's batches. */
async function membersBefore(db: Kysely<DB026>, n: number): Promise<{ team_id: string; autodesk_id: string; name: string }[]> {
  await db
    .insertInto('teams')
    .values(['t1', 't2'].map((id) => ({ id, name: id, created_at: T })))
    .execute();
  const rows = ['t1', 't2'].flatMap((team) =>
    Array.from({ length: n }, (_, i) => ({
      team_id: team,
      autodesk_id: `p${String(i).padStart(5, '0')}@${team}.example.com`,
      name: NAMES[i] ?? `Ézio PERSON ${i}`,
      guest: 0,
      all_products: 0,
      status: 'active' as const,
      created_at: T,
    })),
  );
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('members')
      .values(rows.slice(i, i + 500))
      .execute();
  return rows;
}

describe.each(['sqlite', 'postgres'] as const)('migration 027 on %s', (engine) => {
  it('folds the name of every member written before it, as searchFold does, in TypeScript', async () => {
    await withDatabaseAt(engine, '026_outbox_mailbox', async (database) => {
      const rows = await membersBefore(database.db as unknown as Kysely<DB026>, 1500);
      expect(await migrate(database, '027_member_name_fold')).toEqual(['027_member_name_fold']);
      const after = await database.db.selectFrom('members').select(['team_id', 'autodesk_id', 'name', 'name_fold']).execute();
      expect(after).toHaveLength(rows.length);
      for (const r of after) expect(r.name_fold, r.autodesk_id).toBe(searchFold(r.name));
      expect(after.filter((r) => r.autodesk_id.startsWith('p0000')).map((r) => r.name_fold)).toEqual(
        expect.arrayContaining(['élodie martin', 'chlo\u00e9 nfd', 'σίσυφος greek', 'groß straße', 'i\u0307nci dağ']),
      );
      // And the search finds them by it: the last batch's members too.
      const found = async (q: string) => (await listMembers(database.db, 't1', { search: searchFold(q) })).map((m) => m.name);
      expect(await found('ÉLODIE')).toEqual(['ÉLODIE Martin']);
      expect(await found('σίσυφος')).toEqual(['ΣΊΣΥΦΟΣ Greek']);
      expect(await found('groß')).toEqual(['GROẞ Straße']);
      expect(await found('chlo\u00e9')).toEqual(['Chloe\u0301 Nfd']);
      expect(await found('ézio person 1499')).toEqual(['Ézio PERSON 1499']);
    });
  });

  it('then refuses a member written without its fold, as a gateway older than it writes one', async () => {
    await withDatabaseAt(engine, '026_outbox_mailbox', async (database) => {
      const old = database.db as unknown as Kysely<DB026>;
      await membersBefore(old, 1);
      await migrate(database);
      const member = {
        team_id: 't1',
        autodesk_id: 'late@x.com',
        name: 'Late',
        guest: 0,
        all_products: 0,
        status: 'active' as const,
        created_at: T,
      };
      await expect(old.insertInto('members').values(member).execute()).rejects.toThrow(/name_fold/);
      // As the import of such a gateway renames a member: an insert that would update.
      await expect(
        old
          .insertInto('members')
          .values({ ...member, autodesk_id: 'p00000@t1.example.com', name: 'Renamed' })
          .onConflict((oc) => oc.columns(['team_id', 'autodesk_id']).doUpdateSet((eb) => ({ name: eb.ref('excluded.name') })))
          .execute(),
      ).rejects.toThrow(/name_fold/);
      await expect(
        database.db
          .updateTable('members')
          .set({ name_fold: null as unknown as string })
          .where('team_id', '=', 't1')
          .execute(),
      ).rejects.toThrow(/name_fold/);
      const kept = await database.db
        .selectFrom('members')
        .select(['autodesk_id', 'name', 'name_fold'])
        .where('team_id', '=', 't1')
        .execute();
      expect(kept).toEqual([{ autodesk_id: 'p00000@t1.example.com', name: 'ÉLODIE Martin', name_fold: 'élodie martin' }]);
    });
  });

  it('runs once when two instances start on the database at once', async () => {
    const store = await freshDatabase(engine);
    const [one, two] = [connect({ url: store.url }), connect({ url: store.url })];
    try {
      await migrate(one, '026_outbox_mailbox');
      await membersBefore(one.db as unknown as Kysely<DB026>, 1200);
      const ran = await Promise.all([migrate(one, '027_member_name_fold'), migrate(two, '027_member_name_fold')]);
      expect(ran.flat()).toEqual(['027_member_name_fold']);
      const rows = await two.db.selectFrom('members').select(['name', 'name_fold']).execute();
      expect(rows).toHaveLength(2400);
      expect(rows.filter((r) => r.name_fold !== searchFold(r.name))).toEqual([]);
    } finally {
      await one.close();
      await two.close();
      await store.drop();
    }
  });
});
