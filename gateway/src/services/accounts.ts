import { findAccount, insertAccount } from '../db/repos/accounts';
import { conflict, DomainError } from '../domain/errors';
import { hashPassword, verifyPassword } from '../lib/passwords';
import type { ServiceContext } from './context';

export async function createAccount(
  ctx: ServiceContext,
  input: { autodeskId: string; name: string; password: string },
): Promise<{ autodeskId: string; name: string; createdAt: string }> {
  const createdAt = ctx.clock.now().toISOString();
  const passwordHash = await hashPassword(input.password, ctx.config.scryptN);
  const created = await insertAccount(ctx.db, { autodeskId: input.autodeskId, name: input.name, passwordHash, createdAt });
  if (!created) throw conflict(`An account for ${input.autodeskId} already exists.`);
  return { autodeskId: input.autodeskId, name: input.name, createdAt };
}

/**
 * One dummy hash per scrypt cost, not one per process: a process serving several configurations
 * (tests, an embedding app) must answer an unknown user as slowly as a wrong password under each.
 */
const dummyHashes = new Map<number, Promise<string>>();
function dummyHash(N: number): Promise<string> {
  let h = dummyHashes.get(N);
  if (!h) {
    h = hashPassword('not-a-real-password', N);
    dummyHashes.set(N, h);
  }
  return h;
}

/**
 * An unknown Autodesk ID still costs one scrypt, so the answer's timing does not tell which
 * accounts exist.
 */
export async function signIn(
  ctx: ServiceContext,
  input: { autodeskId: string; password: string },
): Promise<{ token: string; expiresAt: string; autodeskId: string }> {
  const account = await findAccount(ctx.db, input.autodeskId);
  const ok = await verifyPassword(input.password, account?.passwordHash ?? (await dummyHash(ctx.config.scryptN)));
  if (!account || !ok) throw new DomainError('unauthorized', 'Wrong Autodesk ID or password.');
  const { token, expiresAt } = await ctx.keys.signIdToken(account.autodeskId);
  return { token, expiresAt: expiresAt.toISOString(), autodeskId: account.autodeskId };
}
