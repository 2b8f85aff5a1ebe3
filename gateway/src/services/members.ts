import { findAccount } from '../db/repos/accounts';
import { listProductKeys } from '../db/repos/catalog';
import { insertMember, replaceMemberProducts } from '../db/repos/members';
import { inTransaction } from '../db/tx';
import { conflict, DomainError, notFound } from '../domain/errors';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

export interface MemberView {
  team: string;
  autodeskId: string;
  name: string;
  guest: boolean;
  status: 'active' | 'invited' | 'expired';
  allProducts: boolean;
  products: string[];
}

/** Every named product must exist: a typo would otherwise silently grant nothing (R12). */
export async function requireProducts(ctx: ServiceContext, products: readonly string[]): Promise<void> {
  const catalog = new Set(await listProductKeys(ctx.db));
  const unknown = products.filter((p) => !catalog.has(p));
  if (unknown.length > 0) throw new DomainError('unknown-product', `Not in the catalog: ${unknown.join(', ')}.`);
}

/** Adds an existing Autodesk account to a team as an active member (R11, R12). */
export async function addExistingMember(
  ctx: ServiceContext,
  input: { teamId: string; autodeskId: string; guest?: boolean | undefined; products?: string[] | undefined; allProducts?: boolean | undefined },
): Promise<MemberView> {
  await requireTeam(ctx, input.teamId);
  const account = await findAccount(ctx.db, input.autodeskId);
  if (!account) throw notFound(`No Autodesk account ${input.autodeskId}; invite them with "Full Name <email>" instead.`);
  const products = [...new Set(input.products ?? [])];
  await requireProducts(ctx, products);
  const member: MemberView = {
    team: input.teamId,
    autodeskId: input.autodeskId,
    name: account.name,
    guest: input.guest ?? false,
    status: 'active',
    allProducts: input.allProducts ?? false,
    products,
  };
  await inTransaction(ctx.db, async (trx) => {
    const added = await insertMember(trx, {
      teamId: input.teamId,
      autodeskId: input.autodeskId,
      name: account.name,
      guest: member.guest,
      allProducts: member.allProducts,
      status: 'active',
      createdAt: ctx.clock.now().toISOString(),
    });
    if (!added) throw conflict(`${input.autodeskId} is already a member of this team.`);
    await replaceMemberProducts(trx, input.teamId, input.autodeskId, products);
  });
  return member;
}
