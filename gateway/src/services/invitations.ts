import { type AddMemberResponse, type InvitationAccepted, type InvitationView, mailboxOf } from '@flexgate/shared';
import { publicUrlOf } from '../config';
import { existingAccounts, findAccount, insertAccount } from '../db/repos/accounts';
import { listProducts } from '../db/repos/catalog';
import { findInvitation, findInvitationByTokenHash, insertInvitations, markAccepted, supersedeInvitations } from '../db/repos/invitations';
import {
  activateMember,
  deletePendingMember,
  findMember,
  insertMember,
  listMembers,
  lockMember,
  replaceMemberProducts,
  teamDefaults,
} from '../db/repos/members';
import { enqueueMail, recentMailsTo } from '../db/repos/outbox';
import { inTransaction, serialize, type Tx } from '../db/tx';
import { flexProducts } from '../domain/access';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError, invalid, notFound } from '../domain/errors';
import { parseInvite } from '../domain/invite';
import { acceptLink, invitationMail, mapToken, outboxTokenPlace } from '../domain/mails';
import { addMs, DAY_MS, humanInstant } from '../domain/time';
import { newId } from '../lib/ids';
import { newSecret, sha256 } from '../lib/secrets';
import { TokenBuckets } from '../middleware/rate-limit';
import type { Sealer } from '../signing/seal';
import { checkPassword } from './accounts';
import { audit } from './audit';
import type { Actor, ServiceContext } from './context';
import { requireProducts } from './members';
import { requireTeam } from './teams';

/** R11: an invitation must be accepted within 7 days. */
export const INVITATION_MS = 7 * DAY_MS;

export interface NewInvitation {
  id: string;
  token: string;
  expiresAt: string;
}

/**
 * Invitation e-mails carry a name and a team an admin chose, to any address: bounded, so the
 * gateway cannot be made to spam someone. Per recipient (whichever teams and admins send them) in
 * the database; per admin, and for bulk sends per team too, in each process, as the other rate limits.
 */
export const INVITATIONS_PER_RECIPIENT_PER_DAY = 3;

/** One set of buckets per limit and size, so that gateways of one process (tests) with other limits do not share them. */
const registry = new Map<string, TokenBuckets>();
function bucketsOf(limit: string, size: number, periodMs: number): TokenBuckets {
  const name = `${limit}:${size}`;
  let buckets = registry.get(name);
  if (!buckets) {
    buckets = new TokenBuckets(size, undefined, undefined, periodMs);
    registry.set(name, buckets);
  }
  return buckets;
}

/** An admin's invitations of the minute are used up: its own class, so that the console can say it in its words. */
export class InvitationsPerAdminUsedUp extends DomainError {
  constructor(readonly wait: number) {
    super('too-many-requests', `Too many invitations sent from this admin key; retry in ${wait} s.`, { retryAfterSeconds: wait });
  }
}

/** The admin's share of invitation e-mails (FLEXGATE_RATE_INVITE_PER_ADMIN a minute), unless limits are off. */
export function takeInviteToken(ctx: ServiceContext, by: Actor | undefined): void {
  if (by?.kind !== 'admin' || !ctx.config.rateLimit) return;
  const wait = bucketsOf('invite-per-admin', ctx.config.rateLimits.invitePerAdmin, 60_000).take(by.id);
  if (wait > 0) throw new InvitationsPerAdminUsedUp(wait);
}

/** Invitation e-mails a bulk send may write now, taken from its buckets; what it does not use goes back. */
export interface BulkShare {
  readonly granted: number;
  /** Seconds until both buckets hold another e-mail (0: now). */
  wait(): number;
  release(unused: number): void;
}

/**
 * A bulk send's share (FLEXGATE_RATE_INVITE_BULK_PER_HOUR): up to `want` e-mails, as many as both
 * the admin key's bucket and the team's hold (the operator has no admin bucket), taken at once so
 * that two sends of one admin or team in this process cannot both count the same tokens. Rate
 * limits off (FLEXGATE_RATE_LIMIT=off) lift both; the per-recipient cap stays.
 */
export function takeBulkInviteTokens(ctx: ServiceContext, by: Actor | undefined, teamId: string, want: number): BulkShare {
  if (!ctx.config.rateLimit) return { granted: want, wait: () => 0, release: () => {} };
  const size = ctx.config.rateLimits.inviteBulkPerHour;
  const keys: [TokenBuckets, string][] = [[bucketsOf('invite-bulk-per-team', size, 3_600_000), teamId]];
  if (by?.kind === 'admin') keys.push([bucketsOf('invite-bulk-per-admin', size, 3_600_000), by.id]);
  const granted = Math.min(want, ...keys.map(([b, key]) => b.available(key)));
  for (const [b, key] of keys) b.take(key, granted);
  return {
    granted,
    wait: () => Math.max(...keys.map(([b, key]) => b.wait(key))),
    release: (unused) => {
      for (const [b, key] of keys) b.giveBack(key, unused);
    },
  };
}

/** The base64url alphabet: an address's lock is the first character of its SHA-256, one of 64. */
const RECIPIENT_LOCKS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const recipientLock = (address: string) => sha256(mailboxOf(address)).charAt(0);

/**
 * Makes the e-mails of one kind to these addresses' mailboxes (all: `'all'`) wait for any other
 * transaction's of that kind to the same mailboxes, whichever teams, admins and instances write them, so that each
 * reads the per-recipient cap with the e-mails before it committed: two teams at once would otherwise
 * both read two e-mails and both send a third. Addresses share 64 locks a kind (RECIPIENT_LOCKS),
 * taken in order, so two transactions taking several never wait for each other in a circle (db/tx.ts
 * `serialize`; SQLite's one writer needs none). Taken before the transaction's first write: an
 * invitation's rows and a member's take the access epoch's row (migration 006), and a transaction
 * holding that row while asking for a recipient's lock would wait in a circle with one holding the
 * lock and asking for the row. The access e-mail's lock is the exception: every transaction that
 * takes it has changed access already, so the row has ordered them before they reach it.
 */
export async function lockRecipients(trx: Tx, kind: 'invitation' | 'access', addresses: readonly string[] | 'all'): Promise<void> {
  const locks = addresses === 'all' ? [...RECIPIENT_LOCKS] : [...new Set(addresses.map(recipientLock))];
  for (const lock of locks.sort()) await serialize(trx, `${kind}-mail:${lock}`);
}

/**
 * The invitation e-mails each mailbox (`mailboxOf`) had in the 24 hours before `now`, newest first,
 * whichever teams and admins sent them: read in the transaction that would write the next ones,
 * after `lockRecipients`, then counted on as it chooses (`countInvitation`), so that `ana+1@x.com`
 * and `ana+2@x.com` in one bulk send share `ana@x.com`'s cap too. `into`: what an earlier page read
 * and counted, kept; only mailboxes it does not hold are read.
 */
export async function invitationsSent(
  trx: Tx,
  addresses: readonly string[],
  now: Date,
  into: Map<string, string[]> = new Map(),
): Promise<Map<string, string[]>> {
  const unknown = addresses.filter((a) => !into.has(mailboxOf(a)));
  const read = await recentMailsTo(trx, unknown, 'invitation', addMs(now, -DAY_MS).toISOString(), INVITATIONS_PER_RECIPIENT_PER_DAY);
  for (const [mailbox, times] of read) into.set(mailbox, times);
  return into;
}

/** When the next invitation e-mail to `address` may go (the oldest of the cap's e-mails a day old), or undefined: now. */
export function nextInvitationAt(sent: ReadonlyMap<string, readonly string[]>, address: string): Date | undefined {
  const oldest = sent.get(mailboxOf(address))?.[INVITATIONS_PER_RECIPIENT_PER_DAY - 1];
  return oldest === undefined ? undefined : addMs(new Date(oldest), DAY_MS);
}

/** Counts an invitation e-mail to `address` chosen at `nowIso`, for the next `nextInvitationAt` of its mailbox. */
export function countInvitation(sent: Map<string, string[]>, address: string, nowIso: string): void {
  const mailbox = mailboxOf(address);
  sent.set(mailbox, [nowIso, ...(sent.get(mailbox) ?? [])]);
}

/** Who an invitation e-mail is for, and what it tells them. */
export interface Invitee {
  autodeskId: string;
  name: string;
  /** A guest gets none of the team's default products (R13), so the e-mail lists none of them. */
  guest: boolean;
  allProducts: boolean;
  products: readonly string[];
  /** Whether an account exists (the e-mail asks for its password); unknown: looked up. */
  hasAccount?: boolean;
}

/**
 * Fresh invitation rows and their invitation e-mails, in the caller's transaction, for invitees
 * the caller checked against the per-recipient cap (`nextInvitationAt`): one invitation or a bulk
 * send's thousands, written in the same few statements.
 */
export async function writeInvitations(
  ctx: ServiceContext,
  trx: Tx,
  sealer: Sealer,
  team: { id: string; name: string },
  invitees: readonly Invitee[],
  now: Date,
): Promise<NewInvitation[]> {
  if (invitees.length === 0) return [];
  const nowIso = now.toISOString();
  const expiresAt = addMs(now, INVITATION_MS).toISOString();
  const fresh = invitees.map((invitee) => ({
    invitee,
    inv: { id: newId('inv', 9), token: newSecret('inv'), expiresAt } satisfies NewInvitation,
  }));
  await insertInvitations(
    trx,
    fresh.map(({ invitee, inv }) => ({
      id: inv.id,
      teamId: team.id,
      autodeskId: invitee.autodeskId,
      tokenHash: sha256(inv.token),
      expiresAt,
      createdAt: nowIso,
      emailedAt: nowIso,
    })),
  );
  const [catalog, defaults] = await Promise.all([listProducts(trx), teamDefaults(trx, team.id)]);
  const keys = catalog.map((p) => p.key);
  const unknown = invitees.filter((m) => m.hasAccount === undefined).map((m) => m.autodeskId);
  const accounts = unknown.length > 0 ? await existingAccounts(trx, unknown) : new Set<string>();
  const base = publicUrlOf(ctx.config);
  const mails = fresh.map(({ invitee: m, inv }) => {
    // What accepting gives them: their own selection and the team's defaults (R12/R13), as a launch decides.
    const allowed = new Set(flexProducts(m, defaults, keys));
    const mail = invitationMail({
      to: m.autodeskId,
      name: m.name,
      teamName: team.name,
      link: acceptLink(base, inv.token),
      expiresAt,
      products: catalog.filter((p) => allowed.has(p.key)).map((p) => p.name),
      allProducts: m.allProducts,
      hasAccount: m.hasAccount ?? accounts.has(m.autodeskId),
    });
    // The outbox holds the link (and its token) only sealed under the KEK; it is opened to send or show the e-mail.
    return { ...mail, text: mapToken(mail.text, (link) => sealer.seal(link, outboxTokenPlace(mail.to))) };
  });
  await enqueueMail(trx, mails, nowIso);
  return fresh.map((f) => f.inv);
}

/**
 * A fresh invitation row and its invitation e-mail, in the caller's transaction; 429 past the
 * recipient's cap. The caller holds the recipient's lock (`lockRecipients`), taken before its first
 * write: every write here or before it takes the access epoch's row, which a bulk send or a resend
 * asks for while holding recipient locks.
 */
export async function issueInvitation(
  ctx: ServiceContext,
  trx: Tx,
  sealer: Sealer,
  m: Invitee & { teamId: string; teamName: string },
  now: Date,
): Promise<NewInvitation> {
  const next = nextInvitationAt(await invitationsSent(trx, [m.autodeskId], now), m.autodeskId);
  if (next !== undefined) {
    const mailbox = mailboxOf(m.autodeskId);
    const who = mailbox === m.autodeskId.toLowerCase() ? m.autodeskId : `The mailbox of ${m.autodeskId} (${mailbox})`;
    throw new DomainError(
      'too-many-requests',
      `${who} was sent ${INVITATIONS_PER_RECIPIENT_PER_DAY} invitations in the last 24 hours; the next can be sent from ${next.toISOString()}.`,
      { retryAfterSeconds: Math.max(1, Math.ceil((next.getTime() - now.getTime()) / 1000)) },
    );
  }
  const [inv] = await writeInvitations(ctx, trx, sealer, { id: m.teamId, name: m.teamName }, [m], now);
  return inv as NewInvitation;
}

/**
 * R11: `{invite: "Full Name <email>"}` makes a pending member, whether or not an account with that
 * e-mail exists, and sends the invitation e-mail in the same transaction.
 */
export async function inviteMember(
  ctx: ServiceContext,
  input: {
    teamId: string;
    invite: string;
    guest?: boolean | undefined;
    products?: string[] | undefined;
    allProducts?: boolean | undefined;
    /** Who sends it: an admin's invitations are limited per admin. */
    by?: Actor | undefined;
    origin: AuditOrigin;
  },
): Promise<AddMemberResponse> {
  const team = await requireTeam(ctx, input.teamId);
  takeInviteToken(ctx, input.by);
  const parsed = parseInvite(input.invite);
  if (!parsed.ok)
    throw new DomainError('invalid-request', parsed.message, { rule: 'R11', errors: [{ path: 'invite', message: parsed.message }] });
  const products = [...new Set(input.products ?? [])];
  await requireProducts(ctx, products);
  const now = ctx.clock.now();
  const guest = input.guest ?? false;
  const allProducts = input.allProducts ?? false;
  const invitation = await inTransaction(ctx.db, async (trx) => {
    await lockRecipients(trx, 'invitation', [parsed.email]);
    const added = await insertMember(trx, {
      teamId: team.id,
      autodeskId: parsed.email,
      name: parsed.name,
      guest,
      allProducts,
      status: 'invited',
      createdAt: now.toISOString(),
    });
    if (!added) {
      const existing = await findMember(trx, team.id, parsed.email);
      throw conflict(
        existing?.status === 'invited'
          ? `${parsed.email} is already invited to this team; resend the invitation instead (POST /v1/teams/${team.id}/invitations/{id}/resend).`
          : `${parsed.email} is already a member of this team.`,
      );
    }
    await replaceMemberProducts(trx, team.id, parsed.email, products);
    const inv = await issueInvitation(
      ctx,
      trx,
      ctx.keys.sealer,
      { teamId: team.id, teamName: team.name, autodeskId: parsed.email, name: parsed.name, guest, allProducts, products },
      now,
    );
    await audit(trx, input.origin, now.toISOString(), {
      team: team.id,
      action: 'member.invited',
      target: parsed.email,
      after: { name: parsed.name, guest, allProducts, products, invitation: inv.id, expiresAt: inv.expiresAt },
    });
    return inv;
  });
  return {
    member: {
      team: team.id,
      autodeskId: parsed.email,
      name: parsed.name,
      guest,
      status: 'invited',
      allProducts,
      products,
      invitation: { id: invitation.id, expiresAt: invitation.expiresAt, emailedAt: now.toISOString() },
    },
    invitation: { id: invitation.id, expiresAt: invitation.expiresAt, emailedAt: now.toISOString() },
  };
}

/**
 * R11: a resend starts a new 7-day period with a new token; every token sent before is dead. Any
 * invitation id of the member will do (the admin may hold an old one), as long as it is not accepted.
 */
export async function resendInvitation(
  ctx: ServiceContext,
  teamId: string,
  invitationId: string,
  by: Actor | undefined,
  origin: AuditOrigin,
): Promise<InvitationView> {
  const team = await requireTeam(ctx, teamId);
  takeInviteToken(ctx, by);
  const old = await findInvitation(ctx.db, invitationId);
  if (!old || old.teamId !== teamId) throw notFound(`No invitation ${invitationId} in this team.`);
  if (old.acceptedAt) throw conflict(`${old.autodeskId} accepted this invitation on ${old.acceptedAt}; there is nothing to resend.`);
  const now = ctx.clock.now();
  const fresh = await inTransaction(ctx.db, async (trx) => {
    // Two resends at once: the second replaces the first's new invitation too, so one token lives.
    await lockMember(trx, teamId, old.autodeskId);
    // Before its invitations are replaced (row locks a bulk send may wait for while it holds this).
    await lockRecipients(trx, 'invitation', [old.autodeskId]);
    const [member] = await listMembers(trx, teamId, { autodeskId: old.autodeskId });
    if (!member) throw notFound(`${old.autodeskId} is no longer a member of this team; invite them again.`);
    if (member.status === 'active') throw conflict(`${old.autodeskId} is already an active member.`);
    await supersedeInvitations(trx, teamId, old.autodeskId, now.toISOString());
    const inv = await issueInvitation(
      ctx,
      trx,
      ctx.keys.sealer,
      {
        teamId,
        teamName: team.name,
        autodeskId: member.autodeskId,
        name: member.name,
        guest: member.guest,
        allProducts: member.allProducts,
        products: member.products,
      },
      now,
    );
    await audit(trx, origin, now.toISOString(), {
      team: teamId,
      action: 'invitation.resent',
      target: member.autodeskId,
      before: { invitation: old.id, expiresAt: old.expiresAt },
      after: { invitation: inv.id, expiresAt: inv.expiresAt },
    });
    return inv;
  });
  return { id: fresh.id, expiresAt: fresh.expiresAt, emailedAt: now.toISOString() };
}

const DEAD = 'This invitation is not valid any more: it may have been replaced by a newer invitation e-mail, or withdrawn.';

/** The live invitation a token stands for, or the refusal a person should read. */
async function liveInvitation(ctx: ServiceContext, token: string) {
  const inv = await findInvitationByTokenHash(ctx.db, sha256(token));
  if (!inv || inv.supersededAt) throw notFound(DEAD);
  if (inv.acceptedAt) throw conflict(`This invitation was already accepted on ${humanInstant(inv.acceptedAt)}; sign in instead.`);
  if (inv.expiresAt <= ctx.clock.now().toISOString()) {
    throw new DomainError(
      'conflict',
      `This invitation expired on ${humanInstant(inv.expiresAt)} (7 days after it was sent); ask a team admin to send it again.`,
      { rule: 'R11' },
    );
  }
  const member = await findMember(ctx.db, inv.teamId, inv.autodeskId);
  if (!member) throw notFound(DEAD);
  return { inv, member };
}

/** What the accept page shows before anyone acts: the team, the invitee and whether they already have an account. */
export async function invitationByToken(
  ctx: ServiceContext,
  token: string,
): Promise<{ autodeskId: string; name: string; teamName: string; expiresAt: string; hasAccount: boolean }> {
  const { inv, member } = await liveInvitation(ctx, token);
  const team = await requireTeam(ctx, inv.teamId);
  const account = await findAccount(ctx.db, inv.autodeskId);
  return { autodeskId: inv.autodeskId, name: member.name, teamName: team.name, expiresAt: inv.expiresAt, hasAccount: account !== null };
}

/**
 * R11: the token from the e-mail and a password make the member active. Without an account one
 * is created (named as invited); with one, its password must match, so an invitation to an
 * existing e-mail cannot be used to take that account over.
 */
export async function acceptInvitation(
  ctx: ServiceContext,
  input: { token: string; password: string },
  requestId: string | null = null,
): Promise<InvitationAccepted> {
  const { inv, member } = await liveInvitation(ctx, input.token);
  const account = await findAccount(ctx.db, inv.autodeskId);
  // Through the sign-in guard: the token is no way to try passwords beyond what sign-in allows.
  if (account) {
    const wrong = `An Autodesk account ${inv.autodeskId} exists already: give its password to accept.`;
    await checkPassword(ctx, { autodeskId: inv.autodeskId, password: input.password }, wrong);
  }
  const passwordHash = account ? null : await ctx.passwords.hash(input.password);
  return inTransaction(ctx.db, async (trx) => {
    const nowIso = ctx.clock.now().toISOString();
    if (!(await markAccepted(trx, inv.id, nowIso))) throw conflict('This invitation was accepted, replaced or expired meanwhile.');
    let created = false;
    if (passwordHash) {
      created = await insertAccount(trx, { autodeskId: inv.autodeskId, name: member.name, passwordHash, createdAt: nowIso });
      // An account made meanwhile by someone else: its password was never checked here, so refuse.
      if (!created) throw invalid(`An Autodesk account ${inv.autodeskId} was created meanwhile; accept again with its password.`);
    }
    if (!(await activateMember(trx, inv.teamId, inv.autodeskId))) throw notFound(DEAD);
    await audit(trx, { actor: { kind: 'user', autodeskId: inv.autodeskId }, requestId }, nowIso, {
      team: inv.teamId,
      action: 'invitation.accepted',
      target: inv.autodeskId,
      after: { invitation: inv.id, accountCreated: created },
    });
    return { autodeskId: inv.autodeskId, team: inv.teamId, status: 'active' as const, accountCreated: created };
  });
}

/**
 * The person says no: the pending member is removed and the token dies. Declining needs only the
 * token, as an e-mail's "unsubscribe" does: whoever holds it could as well have ignored it.
 */
export async function declineInvitation(ctx: ServiceContext, token: string, requestId: string | null = null): Promise<{ team: string }> {
  const { inv } = await liveInvitation(ctx, token);
  await inTransaction(ctx.db, async (trx) => {
    await lockMember(trx, inv.teamId, inv.autodeskId); // as a removal: after a product change, not beneath it
    const nowIso = ctx.clock.now().toISOString();
    if ((await supersedeInvitations(trx, inv.teamId, inv.autodeskId, nowIso)) === 0) throw notFound(DEAD);
    await deletePendingMember(trx, inv.teamId, inv.autodeskId);
    await audit(trx, { actor: { kind: 'user', autodeskId: inv.autodeskId }, requestId }, nowIso, {
      team: inv.teamId,
      action: 'invitation.declined',
      target: inv.autodeskId,
      before: { invitation: inv.id },
    });
  });
  return { team: inv.teamId };
}
