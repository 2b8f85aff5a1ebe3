import { deleteAdmin, findTeam, findTeams, insertAdmin, insertTeam, setAdminKeyHash } from '../db/repos/teams';
import { inTransaction } from '../db/tx';
import { notFound } from '../domain/errors';
import { newId } from '../lib/ids';
import { newSecret, sha256 } from '../lib/secrets';
import type { ServiceContext } from './context';

export async function createTeam(ctx: ServiceContext, name: string): Promise<{ id: string; name: string; createdAt: string }> {
  const team = { id: newId('tm', 9), name, createdAt: ctx.clock.now().toISOString() };
  await insertTeam(ctx.db, team);
  return team;
}

export async function requireTeam(ctx: ServiceContext, id: string): Promise<{ id: string; name: string }> {
  const team = await findTeam(ctx.db, id);
  if (!team) throw notFound(`No team ${id}.`);
  return team;
}

/** The key is returned once and only its hash is kept. */
export async function createAdmin(
  ctx: ServiceContext,
  input: { name: string; email: string; teams: string[] },
): Promise<{ id: string; key: string; name: string; email: string; teams: string[] }> {
  const teams = [...new Set(input.teams)];
  const found = await findTeams(ctx.db, teams);
  const missing = teams.filter((t) => !found.some((f) => f.id === t));
  if (missing.length > 0) throw notFound(`No team ${missing.join(', ')}.`);
  const id = newId('adm', 9);
  const key = newSecret('fga');
  await inTransaction(ctx.db, (trx) =>
    insertAdmin(trx, { id, name: input.name, email: input.email, keyHash: sha256(key), createdAt: ctx.clock.now().toISOString(), teams }),
  );
  return { id, key, name: input.name, email: input.email, teams };
}

/** A new key for an admin; the old one, and every console session opened with it, stop at once. */
export async function rotateAdminKey(ctx: ServiceContext, adminId: string): Promise<{ id: string; key: string }> {
  const key = newSecret('fga');
  const found = await inTransaction(ctx.db, (trx) => setAdminKeyHash(trx, adminId, sha256(key)));
  if (!found) throw notFound(`No admin ${adminId}.`);
  return { id: adminId, key };
}

/** Withdraws an admin's key (the admin stays, with its teams, until given a new key or removed). */
export async function revokeAdminKey(ctx: ServiceContext, adminId: string): Promise<void> {
  const found = await inTransaction(ctx.db, (trx) => setAdminKeyHash(trx, adminId, `revoked:${newSecret('x')}`));
  if (!found) throw notFound(`No admin ${adminId}.`);
}

export async function removeAdmin(ctx: ServiceContext, adminId: string): Promise<void> {
  const found = await inTransaction(ctx.db, (trx) => deleteAdmin(trx, adminId));
  if (!found) throw notFound(`No admin ${adminId}.`);
}
