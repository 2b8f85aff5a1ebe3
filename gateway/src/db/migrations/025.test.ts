import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { seedTeamWithLot, withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';
import type { DB, MembersTable } from '../schema';

/** The schema as it was at 024: members had no `name_fold` yet (027). */
type DB024 = Omit<DB, 'members'> & { members: Omit<MembersTable, 'name_fold'> };

const T = '2026-05-01T00:00:00.000Z';
const LATER = '2026-05-02T00:00:00.000Z';

// Before 025 an invitation and its e-mail were written at one instant, and an import wrote no
// e-mail: the migration tells the invitations e-mailed from the ones never e-mailed by that alone.
describe.each(['sqlite', 'postgres'] as const)('migration 025 on %s', (engine) => {
  it('an invitation is e-mailed exactly when an invitation e-mail to its address bears its instant', async () => {
    await withDatabaseAt(engine, '024_sign_in_order', async (database) => {
      const db = database.db as unknown as Kysely<DB024>;
      await seedTeamWithLot(database, T, 100);
      const member = (autodesk_id: string) => ({
        team_id: 't1',
        autodesk_id,
        name: autodesk_id,
        guest: 0,
        all_products: 0,
        status: 'invited' as const,
        created_at: T,
      });
      await db.insertInto('members').values(['invited@x.com', 'imported@x.com', 'resent@x.com', 'elsewhere@x.com'].map(member)).execute();
      const invitation = (id: string, autodesk_id: string, created_at: string) => ({
        id,
        team_id: 't1',
        autodesk_id,
        token_hash: `hash-${id}`,
        expires_at: '2026-05-09T00:00:00.000Z',
        accepted_at: null,
        superseded_at: null,
        created_at,
      });
      // Invited by the API; imported; imported then resent a day later (the import's replaced);
      // imported, while another team's invitation e-mail went to the same address a day later.
      await db
        .insertInto('invitations')
        .values([
          invitation('inv_api', 'invited@x.com', T),
          invitation('inv_csv', 'imported@x.com', T),
          { ...invitation('inv_old', 'resent@x.com', T), superseded_at: LATER },
          invitation('inv_new', 'resent@x.com', LATER),
          invitation('inv_quiet', 'elsewhere@x.com', T),
        ])
        .execute();
      const mail = (to_addr: string, created_at: string, kind = 'invitation') => ({
        to_addr,
        subject: 's',
        text: 't',
        kind,
        created_at,
        sent_at: null,
        attempts: 0,
        last_error: null,
        next_attempt_at: null,
      });
      await db
        .insertInto('outbox')
        .values([
          mail('invited@x.com', T),
          mail('resent@x.com', LATER),
          mail('elsewhere@x.com', LATER),
          mail('imported@x.com', T, 'access'),
        ])
        .execute();
      expect(await migrate(database, '025_invitations_emailed')).toEqual(['025_invitations_emailed']);
      const rows = await db.selectFrom('invitations').select(['id', 'emailed_at']).orderBy('id').execute();
      expect(Object.fromEntries(rows.map((r) => [r.id, r.emailed_at]))).toEqual({
        inv_api: T,
        inv_csv: null,
        inv_new: LATER,
        inv_old: null,
        inv_quiet: null,
      });
    });
  });
});
