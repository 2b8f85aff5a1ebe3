import { findAdminById } from '../db/repos/console';
import { deleteAdmin, findTeam, findTeams, insertAdmin, insertTeam, lockAdmin, setAdminKeyHash } from '../db/repos/teams';
import { inTransaction, type Tx } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { notFound } from '../domain/errors';
import { newId } from '../lib/ids';
import { newSecret, sha256 } from '../lib/secrets';
import { audit } from './audit';
import type { ServiceContext } from './context';

export async function createTeam(
  ctx: ServiceContext,
  name: string,
  origin: AuditOrigin,
): Promise<{ id: string; name: string; createdAt: string }> {
  const team = { id: newId('tm', 9), name, createdAt: ctx.clock.now().toISOString() };
  await inTransaction(ctx.db, async (trx) => {
    await insertTeam(trx, team);
    await audit(trx, origin, team.createdAt, { team: team.id, action: 'team.created', target: team.id, after: { name } });
  });
  return team;
}

export async function requireTeam(ctx: ServiceContext, id: string): Promise<{ id: string; name: string }> {
  const team = await findTeam(ctx.db, id);
  if (!team) throw notFound(`No team ${id}.`);
  return team;
}

/** The key is returned once and only its hash is kept (never in the audit trail either). */
export async function createAdmin(
  ctx: ServiceContext,
  input: { name: string; email: string; teams: string[] },
  origin: AuditOrigin,
): Promise<{ id: string; key: string; name: string; email: string; teams: string[] }> {
  const teams = [...new Set(input.teams)];
  const found = await findTeams(ctx.db, teams);
  const missing = teams.filter((t) => !found.some((f) => f.id === t));
  if (missing.length > 0) throw notFound(`No team ${missing.join(', ')}.`);
  const id = newId('adm', 9);
  const key = newSecret('fga');
  const at = ctx.clock.now().toISOString();
  await inTransaction(ctx.db, async (trx) => {
    await insertAdmin(trx, { id, name: input.name, email: input.email, keyHash: sha256(key), createdAt: at, teams });
    // Operator-wide, and in each team's trail: a team's admins see who else was given the keys,
    // but not which other teams that admin manages.
    const who = { name: input.name, email: input.email };
    await audit(
      trx,
      origin,
      at,
      { team: null, action: 'admin.created', target: id, after: { ...who, teams } },
      ...teams.map((team) => ({ team, action: 'admin.created' as const, target: id, after: who })),
    );
  });
  return { id, key, name: input.name, email: input.email, teams };
}

/** A new key for an admin; the old one, and every console session opened with it, stop at once. */
export async function rotateAdminKey(ctx: ServiceContext, adminId: string, origin: AuditOrigin): Promise<{ id: string; key: string }> {
  const key = newSecret('fga');
  await inTransaction(ctx.db, async (trx) => {
    await lockAdmin(trx, adminId);
    if (!(await setAdminKeyHash(trx, adminId, sha256(key)))) throw notFound(`No admin ${adminId}.`);
    await auditKeyChange(trx, origin, ctx.clock.now().toISOString(), adminId, 'credentials.key.rotated');
  });
  return { id: adminId, key };
}

/** Withdraws an admin's key (the admin stays, with its teams, until given a new key or removed). */
export async function revokeAdminKey(ctx: ServiceContext, adminId: string, origin: AuditOrigin): Promise<void> {
  await inTransaction(ctx.db, async (trx) => {
    await lockAdmin(trx, adminId);
    if (!(await setAdminKeyHash(trx, adminId, `revoked:${newSecret('x')}`))) throw notFound(`No admin ${adminId}.`);
    await auditKeyChange(trx, origin, ctx.clock.now().toISOString(), adminId, 'credentials.key.revoked');
  });
}

/**
 * A key changed: operator-wide, and in the trail of each team the admin looks after, as a new or
 * removed admin is, so that the other admins of a team see whose keys changed and when.
 */
async function auditKeyChange(
  trx: Tx,
  origin: AuditOrigin,
  at: string,
  adminId: string,
  action: 'credentials.key.rotated' | 'credentials.key.revoked',
): Promise<void> {
  const teams = (await findAdminById(trx, adminId))?.teams ?? [];
  await audit(trx, origin, at, { team: null, action, target: adminId }, ...teams.map((team) => ({ team, action, target: adminId })));
}

export async function removeAdmin(ctx: ServiceContext, adminId: string, origin: AuditOrigin): Promise<void> {
  await inTransaction(ctx.db, async (trx) => {
    await lockAdmin(trx, adminId);
    const before = await findAdminById(trx, adminId);
    if (!before || !(await deleteAdmin(trx, adminId))) throw notFound(`No admin ${adminId}.`);
    const who = { name: before.name, email: before.email };
    await audit(
      trx,
      origin,
      ctx.clock.now().toISOString(),
      { team: null, action: 'admin.removed', target: adminId, before: { ...who, teams: before.teams } },
      ...before.teams.map((team) => ({ team, action: 'admin.removed' as const, target: adminId, before: who })),
    );
  });
}
