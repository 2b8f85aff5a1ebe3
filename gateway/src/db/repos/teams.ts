import type { Kysely } from 'kysely';
import type { DB } from '../schema';
import { serialize, type Tx } from '../tx';

export async function insertTeam(db: Kysely<DB>, team: { id: string; name: string; createdAt: string }): Promise<void> {
  await db.insertInto('teams').values({ id: team.id, name: team.name, created_at: team.createdAt }).execute();
}

export async function findTeam(db: Kysely<DB>, id: string): Promise<{ id: string; name: string } | null> {
  const row = await db.selectFrom('teams').select(['id', 'name']).where('id', '=', id).executeTakeFirst();
  return row ?? null;
}

export async function findTeams(db: Kysely<DB>, ids: readonly string[]): Promise<{ id: string; name: string }[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('teams').select(['id', 'name']).where('id', 'in', ids).execute();
}

export async function insertAdmin(
  db: Kysely<DB>,
  admin: { id: string; name: string; email: string; keyHash: string; createdAt: string; teams: readonly string[] },
): Promise<void> {
  await db
    .insertInto('admins')
    .values({ id: admin.id, name: admin.name, email: admin.email, key_hash: admin.keyHash, created_at: admin.createdAt })
    .execute();
  if (admin.teams.length > 0) {
    await db
      .insertInto('admin_teams')
      .values(admin.teams.map((t) => ({ admin_id: admin.id, team_id: t })))
      .execute();
  }
}

export async function findAdminByKeyHash(
  db: Kysely<DB>,
  keyHash: string,
): Promise<{ id: string; name: string; email: string; teams: string[] } | null> {
  const admin = await db.selectFrom('admins').select(['id', 'name', 'email']).where('key_hash', '=', keyHash).executeTakeFirst();
  if (!admin) return null;
  const teams = await db.selectFrom('admin_teams').select('team_id').where('admin_id', '=', admin.id).execute();
  return { ...admin, teams: teams.map((t) => t.team_id) };
}

export async function adminEmailsOfTeam(db: Kysely<DB>, teamId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('admins')
    .innerJoin('admin_teams', 'admin_teams.admin_id', 'admins.id')
    .select('admins.email')
    .where('admin_teams.team_id', '=', teamId)
    .execute();
  return rows.map((r) => r.email);
}

/**
 * Makes this transaction's change of an admin's key (rotation, revocation, removal) and a console
 * sign-in with that key run one after the other, so that no session opened with the old key
 * outlives the change (db/tx.ts `serialize`).
 */
export async function lockAdmin(trx: Tx, adminId: string): Promise<void> {
  await serialize(trx, `admin:${adminId}`);
}

/** Replaces an admin's key hash (a new key, or none: `revoked:` never equals a key's hash); ends its console sessions. */
export async function setAdminKeyHash(db: Kysely<DB>, adminId: string, keyHash: string): Promise<boolean> {
  const r = await db.updateTable('admins').set({ key_hash: keyHash }).where('id', '=', adminId).executeTakeFirst();
  await db.deleteFrom('console_sessions').where('admin_id', '=', adminId).execute();
  return Number(r.numUpdatedRows) === 1;
}

export async function deleteAdmin(db: Kysely<DB>, adminId: string): Promise<boolean> {
  await db.deleteFrom('console_sessions').where('admin_id', '=', adminId).execute();
  await db.deleteFrom('admin_teams').where('admin_id', '=', adminId).execute();
  const r = await db.deleteFrom('admins').where('id', '=', adminId).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}
