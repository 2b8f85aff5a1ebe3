import { findProduct } from '../db/repos/catalog';
import { currentLicenses } from '../db/repos/licenses';
import { membershipFacts } from '../db/repos/members';
import { type AccessDecision, type AccessQuestion, decideAccess } from '../domain/precedence';
import type { ServiceContext } from './context';

/**
 * Gathers the facts for one (user, product) and lets the pure precedence rules decide (R9-R13).
 * The launch uses it to grant, the admins' explain (R18) to show why.
 */
export async function resolveAccess(ctx: ServiceContext, q: AccessAsk): Promise<AccessDecision> {
  return decideAccess(await accessFacts(ctx, q));
}

export interface AccessAsk {
  autodeskId: string;
  product: string;
  team?: string | undefined;
  at: Date;
}

/** The facts `resolveAccess` decides from, for callers that also need them (the launch's cache). */
export async function accessFacts(ctx: ServiceContext, q: AccessAsk): Promise<AccessQuestion> {
  const atIso = q.at.toISOString();
  const [product, licenses, memberships] = await Promise.all([
    findProduct(ctx.db, q.product),
    currentLicenses(ctx.db, q.autodeskId, atIso, q.product),
    membershipFacts(ctx.db, q.autodeskId, atIso, q.team),
  ]);
  return { autodeskId: q.autodeskId, productKey: q.product, product, licenses, memberships, requestedTeam: q.team ?? null, now: q.at };
}
