import { randomBytes } from 'node:crypto';
import {
  deleteConsoleSession,
  deleteExpiredConsoleSessions,
  findAdminById,
  findConsoleSession,
  insertConsoleSession,
  touchConsoleSession,
} from '../db/repos/console';
import { findAdminByKeyHash, lockAdmin } from '../db/repos/teams';
import { inTransaction } from '../db/tx';
import { addMs, HOUR_MS } from '../domain/time';
import { constantTimeEquals, sha256 } from '../lib/secrets';
import type { ServiceContext } from '../services/context';

/** A console session ends after 2 hours without a request, and 12 hours after sign-in at the latest. */
export const IDLE_MS = 2 * HOUR_MS;
export const ABSOLUTE_MS = 12 * HOUR_MS;
/** Sliding the idle deadline costs a write; once a minute per session is enough. */
const TOUCH_EVERY_MS = 60_000;

export interface ConsoleAdmin {
  id: string;
  name: string;
  email: string;
  teams: string[];
}

export interface ConsoleSession {
  admin: ConsoleAdmin;
  csrf: string;
}

const opaque = () => randomBytes(32).toString('base64url');

/**
 * Signs an admin in with its `fga_` key. The browser gets an opaque random id (never the key); the
 * database keeps only that id's hash, so every gateway instance can resolve it.
 */
export async function openConsoleSession(ctx: ServiceContext, key: string): Promise<{ id: string; session: ConsoleSession } | null> {
  const trimmed = key.trim();
  if (!trimmed.startsWith('fga_') || trimmed.length > 200) return null;
  const keyHash = sha256(trimmed);
  const admin = await findAdminByKeyHash(ctx.db, keyHash);
  if (!admin) return null;
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  await deleteExpiredConsoleSessions(ctx.db, nowIso);
  const id = opaque();
  const csrf = opaque();
  // The key may be rotated, revoked or its admin removed at this very moment: the session is
  // opened under the admin's lock, and only while the key is still the admin's.
  const opened = await inTransaction(ctx.db, async (trx) => {
    await lockAdmin(trx, admin.id);
    return insertConsoleSession(trx, {
      idHash: sha256(id),
      adminId: admin.id,
      keyHash,
      csrf,
      createdAt: nowIso,
      expiresAt: addMs(now, IDLE_MS).toISOString(),
    });
  });
  if (!opened) return null;
  return { id, session: { admin, csrf } };
}

/** The session a cookie names, if it is still alive; slides its idle deadline. */
export async function resolveConsoleSession(ctx: ServiceContext, id: string): Promise<ConsoleSession | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = sha256(id);
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const row = await findConsoleSession(ctx.db, idHash, nowIso);
  if (!row) return null;
  const admin = await findAdminById(ctx.db, row.adminId);
  if (!admin) return null;
  if (now.getTime() - Date.parse(row.lastSeenAt) > TOUCH_EVERY_MS) {
    const hardEnd = Date.parse(row.createdAt) + ABSOLUTE_MS;
    const next = new Date(Math.min(hardEnd, addMs(now, IDLE_MS).getTime())).toISOString();
    await touchConsoleSession(ctx.db, idHash, nowIso, next);
  }
  return { admin, csrf: row.csrf };
}

export async function closeConsoleSession(ctx: ServiceContext, id: string): Promise<void> {
  await deleteConsoleSession(ctx.db, sha256(id));
}

export function csrfMatches(expected: string, given: unknown): boolean {
  return typeof given === 'string' && given.length > 0 && constantTimeEquals(expected, given);
}
