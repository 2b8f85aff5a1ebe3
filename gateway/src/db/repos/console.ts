import type { Kysely } from 'kysely';
import type { DB } from '../schema';

/** Admin console sessions and the few read-only lookups the console needs. */

export interface ConsoleSessionRow {
  adminId: string;
  csrf: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

/**
 * Opens a session for the admin while its key is still `keyHash`: none when the key was rotated,
 * revoked or its admin removed since the sign-in looked it up (the caller holds `lockAdmin`).
 */
export async function insertConsoleSession(
  db: Kysely<DB>,
  s: { idHash: string; adminId: string; keyHash: string; csrf: string; createdAt: string; expiresAt: string },
): Promise<boolean> {
  const r = await db
    .insertInto('console_sessions')
    .columns(['id_hash', 'admin_id', 'csrf', 'created_at', 'last_seen_at', 'expires_at'])
    .expression((eb) =>
      eb
        .selectFrom('admins')
        .select((a) => [
          a.val(s.idHash).as('id_hash'),
          'id',
          a.val(s.csrf).as('csrf'),
          a.val(s.createdAt).as('created_at'),
          a.val(s.createdAt).as('last_seen_at'),
          a.val(s.expiresAt).as('expires_at'),
        ])
        .where('id', '=', s.adminId)
        .where('key_hash', '=', s.keyHash),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function findConsoleSession(db: Kysely<DB>, idHash: string, nowIso: string): Promise<ConsoleSessionRow | null> {
  const row = await db
    .selectFrom('console_sessions')
    .select(['admin_id', 'csrf', 'created_at', 'last_seen_at', 'expires_at'])
    .where('id_hash', '=', idHash)
    .where('expires_at', '>', nowIso)
    .executeTakeFirst();
  return row
    ? { adminId: row.admin_id, csrf: row.csrf, createdAt: row.created_at, lastSeenAt: row.last_seen_at, expiresAt: row.expires_at }
    : null;
}

export async function touchConsoleSession(db: Kysely<DB>, idHash: string, nowIso: string, expiresAt: string): Promise<void> {
  await db.updateTable('console_sessions').set({ last_seen_at: nowIso, expires_at: expiresAt }).where('id_hash', '=', idHash).execute();
}

export async function deleteConsoleSession(db: Kysely<DB>, idHash: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteExpiredConsoleSessions(db: Kysely<DB>, nowIso: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('expires_at', '<=', nowIso).execute();
}

/** The admin and the teams it manages right now (a team taken away ends access at once). */
export async function findAdminById(
  db: Kysely<DB>,
  id: string,
): Promise<{ id: string; name: string; email: string; teams: string[] } | null> {
  const admin = await db.selectFrom('admins').select(['id', 'name', 'email']).where('id', '=', id).executeTakeFirst();
  if (!admin) return null;
  const teams = await db.selectFrom('admin_teams').select('team_id').where('admin_id', '=', id).execute();
  return { ...admin, teams: teams.map((t) => t.team_id) };
}

/** Admins' names by id (the audit page names who acted); an admin removed since is simply absent. */
export async function adminNamesById(db: Kysely<DB>, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('admins')
    .select(['id', 'name'])
    .where('id', 'in', [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
