import { type AddMemberResponse, type MemberView, mailboxOf, type Product, searchFold } from '@flexgate/shared';
import { findAccount } from '../db/repos/accounts';
import { listProductKeys, listProducts } from '../db/repos/catalog';
import { openInvitations, supersedeInvitations } from '../db/repos/invitations';
import {
  deleteMember,
  insertMember,
  listMembers,
  lockMember,
  type MemberRow,
  memberCounts,
  replaceMemberProducts,
  setAllProducts,
  setGuest,
  teamDefaults,
} from '../db/repos/members';
import { enqueueMail, recentMailsTo } from '../db/repos/outbox';
import { inTransaction, type Tx } from '../db/tx';
import { flexProducts } from '../domain/access';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError, notFound } from '../domain/errors';
import { accessMail } from '../domain/mails';
import { addMs, DAY_MS } from '../domain/time';
import { audit } from './audit';
import type { Actor, ServiceContext } from './context';
import { inviteMember, issueInvitation, lockRecipients, takeInviteToken } from './invitations';
import { requireTeam } from './teams';

export type { MemberView };

/** Every named product must exist: a typo would otherwise silently grant nothing (R12). */
export async function requireProducts(ctx: ServiceContext, products: readonly string[]): Promise<void> {
  const catalog = new Set(await listProductKeys(ctx.db));
  const unknown = products.filter((p) => !catalog.has(p));
  if (unknown.length > 0) throw new DomainError('unknown-product', `Not in the catalog: ${unknown.join(', ')}.`);
}

/**
 * Access e-mails one mailbox (`mailboxOf`: `+tags` are one) gets in 24 hours, whichever teams send them: the e-mail greets the
 * person by a name an admin (or an import) chose, so changes made over and over must not become a
 * way to mail someone without end. Past it a change is saved all the same, without an e-mail (the
 * member's products answer it: `GET /v1/me/products`).
 */
export const ACCESS_MAILS_PER_RECIPIENT_PER_DAY = 5;

/**
 * R14: an individual assignment or access change e-mails the member the Flex products they may
 * now use (`keys`: own selection ∪ defaults, R12/R13), in the transaction of the change.
 */
async function notifyAccess(
  trx: Tx,
  teamName: string,
  m: MemberRow,
  access: { catalog: readonly Product[]; keys: readonly string[] },
  nowIso: string,
): Promise<void> {
  const since = addMs(new Date(nowIso), -DAY_MS).toISOString();
  // Two teams changing one person's products at once: each counts the other's e-mail.
  await lockRecipients(trx, 'access', [m.autodeskId]);
  const recent = await recentMailsTo(trx, [m.autodeskId], 'access', since, ACCESS_MAILS_PER_RECIPIENT_PER_DAY);
  if ((recent.get(mailboxOf(m.autodeskId))?.length ?? 0) >= ACCESS_MAILS_PER_RECIPIENT_PER_DAY) return;
  const names = access.catalog.filter((p) => access.keys.includes(p.key)).map((p) => p.name);
  await enqueueMail(trx, [accessMail({ to: m.autodeskId, name: m.name, teamName, products: names, allProducts: m.allProducts })], nowIso);
}

type AddInput = {
  teamId: string;
  autodeskId?: string | undefined;
  invite?: string | undefined;
  guest?: boolean | undefined;
  products?: string[] | undefined;
  allProducts?: boolean | undefined;
  by?: Actor | undefined;
  origin: AuditOrigin;
};

/** POST /v1/teams/:team/members: an existing account by Autodesk ID, or an invitation (R11); both wait for the person's consent. */
export async function addMember(ctx: ServiceContext, input: AddInput): Promise<AddMemberResponse> {
  if (input.invite !== undefined) return inviteMember(ctx, { ...input, invite: input.invite });
  return askExistingAccount(ctx, { ...input, autodeskId: input.autodeskId ?? '' });
}

/**
 * R11: an existing Autodesk account is asked, not added: it becomes a pending member with an
 * invitation e-mail, as a newcomer does, and joins only when that person accepts (signing in with
 * their own password). Until then it launches nothing through this team and counts for no choice
 * between teams, and this team's admin sees nothing of its licences held elsewhere.
 */
export async function askExistingAccount(
  ctx: ServiceContext,
  input: {
    teamId: string;
    autodeskId: string;
    guest?: boolean | undefined;
    products?: string[] | undefined;
    allProducts?: boolean | undefined;
    by?: Actor | undefined;
    origin: AuditOrigin;
  },
): Promise<AddMemberResponse> {
  const team = await requireTeam(ctx, input.teamId);
  const account = await findAccount(ctx.db, input.autodeskId);
  if (!account) throw notFound(`No Autodesk account ${input.autodeskId}; invite them with "Full Name <email>" instead.`);
  takeInviteToken(ctx, input.by);
  const products = [...new Set(input.products ?? [])];
  await requireProducts(ctx, products);
  const guest = input.guest ?? false;
  const allProducts = input.allProducts ?? false;
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const invitation = await inTransaction(ctx.db, async (trx) => {
    await lockRecipients(trx, 'invitation', [input.autodeskId]);
    const added = await insertMember(trx, {
      teamId: input.teamId,
      autodeskId: input.autodeskId,
      name: account.name,
      guest,
      allProducts,
      status: 'invited',
      createdAt: nowIso,
    });
    if (!added) throw conflict(`${input.autodeskId} is already a member of this team (or invited to it).`);
    await replaceMemberProducts(trx, input.teamId, input.autodeskId, products);
    const inv = await issueInvitation(
      ctx,
      trx,
      ctx.keys.sealer,
      {
        teamId: team.id,
        teamName: team.name,
        autodeskId: input.autodeskId,
        name: account.name,
        guest,
        allProducts,
        products,
        hasAccount: true,
      },
      now,
    );
    await audit(trx, input.origin, nowIso, {
      team: team.id,
      action: 'member.invited',
      target: input.autodeskId,
      after: { name: account.name, guest, allProducts, products, account: 'existing', invitation: inv.id, expiresAt: inv.expiresAt },
    });
    return inv;
  });
  const pending = { id: invitation.id, expiresAt: invitation.expiresAt, emailedAt: nowIso };
  return {
    member: {
      team: team.id,
      autodeskId: input.autodeskId,
      name: account.name,
      guest,
      status: 'invited',
      allProducts,
      products,
      invitation: pending,
    },
    invitation: pending,
  };
}

/** The most members one page of `GET /v1/teams/:team/members` holds, and how many it holds by default. */
export const MEMBERS_PAGE_MAX = 1000;
export const MEMBERS_PAGE_DEFAULT = 100;

/**
 * GET /v1/teams/:team/members: a page of members in Autodesk ID order, those after `after`, with
 * their status derived from the current invitation (R11). `next` is the cursor of the following
 * page, null on the last one. Keyset paging: a member added or removed meanwhile moves no other.
 * With `q` (`memberSearch`), only the members whose name or Autodesk ID contains it, in any case
 * (`searchFold`); blank around it is dropped, and a blank `q` searches nothing.
 */
export async function teamMembers(
  ctx: ServiceContext,
  teamId: string,
  page: { after?: string | undefined; limit: number; q?: string | undefined },
): Promise<{ members: MemberView[]; next: string | null }> {
  await requireTeam(ctx, teamId);
  const nowIso = ctx.clock.now().toISOString();
  const search = page.q === undefined ? undefined : searchFold(page.q.trim());
  // One more than asked tells whether another page follows, without a count.
  const rows = await listMembers(ctx.db, teamId, { after: page.after, limit: page.limit + 1, search });
  const members = rows.slice(0, page.limit);
  const invitations = await openInvitations(
    ctx.db,
    teamId,
    members.filter((m) => m.status !== 'active').map((m) => m.autodeskId),
  );
  // Ordered by creation, so the last one seen per member is the current invitation.
  const current = new Map(invitations.map((i) => [i.autodeskId, i]));
  const next = rows.length > page.limit ? (members.at(-1)?.autodeskId ?? null) : null;
  return { members: members.map((m) => view(teamId, m, current.get(m.autodeskId), nowIso)), next };
}

/** One member as `teamMembers` shows it, or null. */
export async function teamMember(ctx: ServiceContext, teamId: string, autodeskId: string): Promise<MemberView | null> {
  await requireTeam(ctx, teamId);
  const [m] = await listMembers(ctx.db, teamId, { autodeskId });
  if (!m) return null;
  const [inv] = (await openInvitations(ctx.db, teamId, autodeskId)).slice(-1);
  return view(teamId, m, inv, ctx.clock.now().toISOString());
}

/** How many members the team has, by status (R11). */
export async function teamMemberCounts(ctx: ServiceContext, teamId: string) {
  await requireTeam(ctx, teamId);
  return memberCounts(ctx.db, teamId, ctx.clock.now().toISOString());
}

function view(
  teamId: string,
  m: MemberRow,
  inv: { id: string; expiresAt: string; emailedAt: string | null } | undefined,
  nowIso: string,
): MemberView {
  if (m.status === 'active') return { team: teamId, ...m, status: 'active' };
  return {
    team: teamId,
    ...m,
    status: inv && inv.expiresAt > nowIso ? 'invited' : 'expired',
    ...(inv ? { invitation: { id: inv.id, expiresAt: inv.expiresAt, emailedAt: inv.emailedAt } } : {}),
  };
}

/**
 * One kind of change to a member's access (R12 selection, R13 guest status), for `changeAccess`.
 */
interface AccessChange {
  action: 'member.products.changed' | 'member.guest.changed';
  /** Checks made once the team is known, before anything is read of the member. */
  check?(): Promise<void>;
  /** The member as the change leaves them; null when it changes nothing, so nothing is written. */
  next(before: MemberRow): MemberRow | null;
  write(trx: Tx, teamId: string, after: MemberRow): Promise<void>;
  /** R14: whether an accepted member is e-mailed, given whether the Flex products they may use changed. */
  tells(before: MemberRow, after: MemberRow, effectiveChanged: boolean): boolean;
  /** What the audit entry records of the member, before and after. */
  recorded(m: MemberRow): Record<string, unknown>;
}

/**
 * The one way a member's access changes: under the member's lock, read them, write, e-mail them if
 * they accepted (R14), audit, in one transaction. The write bumps the access epoch by trigger
 * (migration 006), so the next launch on every instance decides anew and no warm answer outlives it.
 */
async function changeAccess(
  ctx: ServiceContext,
  input: { teamId: string; autodeskId: string; origin: AuditOrigin },
  change: AccessChange,
): Promise<MemberView> {
  const team = await requireTeam(ctx, input.teamId);
  await change.check?.();
  const nowIso = ctx.clock.now().toISOString();
  return inTransaction(ctx.db, async (trx) => {
    // Two saves at once (a double click) decide one after the other: only a real change e-mails.
    await lockMember(trx, input.teamId, input.autodeskId);
    const [before] = await listMembers(trx, input.teamId, { autodeskId: input.autodeskId });
    if (!before) throw notFound(`${input.autodeskId} is not a member of this team.`);
    const after = change.next(before);
    if (after) {
      await change.write(trx, input.teamId, after);
      // Only a member who accepted launches anything: a pending person's invitation (when sent or
      // resent) lists the products it gives, and an imported person has had no e-mail at all (R14).
      if (after.status === 'active') {
        const [catalog, defaults] = await Promise.all([listProducts(trx), teamDefaults(trx, team.id)]);
        const all = catalog.map((p) => p.key);
        const was = flexProducts(before, defaults, all);
        const keys = flexProducts(after, defaults, all);
        if (change.tells(before, after, was.join(',') !== keys.join(','))) {
          await notifyAccess(trx, team.name, after, { catalog, keys }, nowIso);
        }
      }
      await audit(trx, input.origin, nowIso, {
        team: team.id,
        action: change.action,
        target: input.autodeskId,
        before: change.recorded(before),
        after: change.recorded(after),
      });
    }
    const [inv] = (await openInvitations(trx, input.teamId, input.autodeskId)).slice(-1);
    return view(input.teamId, after ?? before, inv, nowIso);
  });
}

/**
 * PUT .../members/:id/products (R12): a product list or "all products", replacing the previous
 * choice. A real change e-mails a member who accepted (R14); saving the same selection again does not.
 */
export async function setMemberProducts(
  ctx: ServiceContext,
  input: { teamId: string; autodeskId: string; allProducts: boolean; products: string[]; origin: AuditOrigin },
): Promise<MemberView> {
  const products = [...new Set(input.products)].sort();
  return changeAccess(ctx, input, {
    action: 'member.products.changed',
    check: () => requireProducts(ctx, products),
    // Saved (and audited) even when unchanged, as it always was: only the e-mail depends on a change.
    next: (before) => ({ ...before, allProducts: input.allProducts, products }),
    write: async (trx, teamId, after) => {
      await setAllProducts(trx, teamId, after.autodeskId, after.allProducts);
      await replaceMemberProducts(trx, teamId, after.autodeskId, after.products);
    },
    tells: (before, after) => before.allProducts !== after.allProducts || before.products.join(',') !== after.products.join(','),
    recorded: (m) => ({ allProducts: m.allProducts, products: [...m.products].sort() }),
  });
}

/**
 * PUT .../members/:id/guest (R13): a guest gets no team defaults, a regular member gets them. The
 * member is e-mailed, as for a product change (R14), only when this changes the products they may
 * use (a team with no defaults, or "all products", changes nothing). The same value again writes nothing.
 */
export async function setMemberGuest(
  ctx: ServiceContext,
  input: { teamId: string; autodeskId: string; guest: boolean; origin: AuditOrigin },
): Promise<MemberView> {
  return changeAccess(ctx, input, {
    action: 'member.guest.changed',
    next: (before) => (before.guest === input.guest ? null : { ...before, guest: input.guest }),
    write: async (trx, teamId, after) => {
      await setGuest(trx, teamId, after.autodeskId, after.guest);
    },
    tells: (_before, _after, effectiveChanged) => effectiveChanged,
    recorded: (m) => ({ guest: m.guest }),
  });
}

/** DELETE .../members/:id: access ends at once; a pending invitation's token dies with it (R11). */
export async function removeMember(ctx: ServiceContext, teamId: string, autodeskId: string, origin: AuditOrigin): Promise<void> {
  await requireTeam(ctx, teamId);
  await inTransaction(ctx.db, async (trx) => {
    // After a product change that read the member, not beneath it (its products would outlive the member).
    await lockMember(trx, teamId, autodeskId);
    const nowIso = ctx.clock.now().toISOString();
    const [before] = await listMembers(trx, teamId, { autodeskId });
    await supersedeInvitations(trx, teamId, autodeskId, nowIso);
    if (!before || !(await deleteMember(trx, teamId, autodeskId))) throw notFound(`${autodeskId} is not a member of this team.`);
    await audit(trx, origin, nowIso, {
      team: teamId,
      action: 'member.removed',
      target: autodeskId,
      before: { name: before.name, guest: before.guest, status: before.status, allProducts: before.allProducts, products: before.products },
    });
  });
}
