import { type InvitationsSent, SEND_INVITATIONS_MAX } from '@flexgate/shared';
import { countNeverEmailed, type NeverEmailedRow, neverEmailed, supersedeNeverEmailed } from '../db/repos/invitations';
import { memberProducts } from '../db/repos/members';
import { inTransaction, serialize } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { nextTurn } from '../lib/turns';
import { audit } from './audit';
import type { Actor, ServiceContext } from './context';
import { type IdempotencyRequest, remember, replay } from './idempotency';
import { countInvitation, invitationsSent, lockRecipients, nextInvitationAt, takeBulkInviteTokens, writeInvitations } from './invitations';
import { requireTeam } from './teams';

/** Invitations read (and checked against the per-recipient cap) at a time. */
const PAGE = 1000;

/**
 * R11, R14: e-mails the invitations of a team that were never e-mailed (an import's: its rows get
 * a pending member and an invitation, no e-mail), or only those of `invitations` among them. Each
 * is sent as a resend would: a new invitation with a new token and 7 days from now, the earlier
 * one (whose token nobody ever received) replaced; an expired one too, since its 7 days ran out
 * before its person was ever told.
 *
 * Bounded, not a second way round the invitation limits: the per-recipient cap (3 a day whoever
 * sends them) is the invitations' own, read in the transaction; the volume is the admin key's and
 * the team's share of FLEXGATE_RATE_INVITE_BULK_PER_HOUR, and at most SEND_INVITATIONS_MAX a call.
 * What they hold back waits for a later call, which the answer says when to make: nothing is
 * queued, so nothing is sent that an admin did not ask for at the time.
 *
 * One transaction, as an import: the e-mails, the replaced invitations and one audit entry commit
 * together. Two sends of a team run one after the other (the second finds the first's e-mailed),
 * and each invitation is replaced by a guarded update, so a resend, a removal or another send
 * racing for the same person leaves one e-mail, whichever instance runs them.
 */
export async function sendInvitations(
  ctx: ServiceContext,
  input: {
    teamId: string;
    invitations?: readonly string[] | undefined;
    by?: Actor | undefined;
    origin: AuditOrigin;
    idempotency?: IdempotencyRequest | undefined;
  },
): Promise<InvitationsSent> {
  const team = await requireTeam(ctx, input.teamId);
  const earlier = await replay<InvitationsSent>(ctx.db, input.idempotency);
  if (earlier) return earlier;
  const ids = input.invitations === undefined ? undefined : [...new Set(input.invitations)];
  // The share is taken before the transaction (the buckets are in memory, not in it) for as many
  // as wait now; what the transaction does not use goes back.
  const asked = await countNeverEmailed(ctx.db, team.id, ids);
  if (asked === 0)
    return { sent: 0, remaining: 0, heldByVolume: 0, heldByRecipient: 0, retryAfterSeconds: null, skipped: ids?.length ?? 0 };
  const share = takeBulkInviteTokens(ctx, input.by, team.id, Math.min(asked, SEND_INVITATIONS_MAX));
  let sentNow = 0;
  try {
    const { answer, sent } = await inTransaction(ctx.db, async (trx) => {
      await serialize(trx, `invitations-send:${team.id}`);
      // After the lock: the same key sent twice at once answers what the first stored.
      const raced = await replay<InvitationsSent>(trx, input.idempotency);
      if (raced) return { answer: raced, sent: 0 };
      // Every address's lock, before reading the caps: another team's e-mail to one of them waits.
      if (share.granted > 0) await lockRecipients(trx, 'invitation', 'all');
      const now = ctx.clock.now();
      const nowIso = now.toISOString();
      const waiting = await countNeverEmailed(trx, team.id, ids);
      // In Autodesk ID order, page by page, until the share is used: those at their daily cap are
      // passed over (and counted), not sent, whatever the share.
      const chosen: NeverEmailedRow[] = [];
      const capped: Date[] = [];
      const sent = new Map<string, string[]>();
      let after: string | undefined;
      while (chosen.length < share.granted) {
        if (after !== undefined) await nextTurn();
        const page = await neverEmailed(trx, team.id, { ids, after, limit: PAGE });
        await invitationsSent(
          trx,
          page.map((p) => p.autodeskId),
          now,
          sent,
        );
        for (const p of page) {
          const next = nextInvitationAt(sent, p.autodeskId);
          if (next !== undefined) capped.push(next);
          else if (chosen.length < share.granted) {
            chosen.push(p);
            countInvitation(sent, p.autodeskId, nowIso);
          }
        }
        after = page.at(-1)?.autodeskId;
        if (page.length < PAGE) break;
      }
      // Written in batches, a turn of the event loop between them, as an import's rows are.
      const sending: NeverEmailedRow[] = [];
      let expiresAt: string | null = null;
      for (let i = 0; i < chosen.length; i += PAGE) {
        if (i > 0) await nextTurn();
        const batch = chosen.slice(i, i + PAGE);
        const won = await supersedeNeverEmailed(
          trx,
          batch.map((c) => c.id),
          nowIso,
        );
        const mine = batch.filter((c) => won.has(c.id));
        const products = await memberProducts(
          trx,
          team.id,
          mine.map((s) => s.autodeskId),
        );
        const written = await writeInvitations(
          ctx,
          trx,
          ctx.keys.sealer,
          team,
          mine.map((s) => ({ ...s, products: products.get(s.autodeskId) ?? [] })),
          now,
        );
        expiresAt ??= written[0]?.expiresAt ?? null;
        sending.push(...mine);
      }
      // Those chosen but replaced meanwhile (resent, removed) wait no more.
      const remaining = Math.max(0, waiting - chosen.length);
      const heldByRecipient = Math.min(remaining, capped.length);
      const heldByVolume = remaining - heldByRecipient;
      const waits = [
        ...(heldByVolume > 0 ? [share.wait()] : []),
        ...capped.map((at) => Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000))),
      ];
      const result: InvitationsSent = {
        sent: sending.length,
        remaining,
        heldByVolume,
        heldByRecipient,
        retryAfterSeconds: remaining === 0 ? null : Math.min(...waits),
        skipped: ids === undefined ? 0 : ids.length - waiting,
      };
      if (sending.length > 0) {
        // One entry for the send, not one per person, as an import writes: its counts and addresses.
        await audit(trx, input.origin, nowIso, {
          team: team.id,
          action: 'invitations.sent',
          after: {
            sent: sending.length,
            remaining,
            expiresAt,
            members: sending.map((s) => s.autodeskId),
          },
        });
        // Only a send that sent something is kept for its Idempotency-Key: one that changed nothing is decided again.
        await remember(trx, input.idempotency, result, nowIso);
      }
      return { answer: result, sent: sending.length };
    });
    sentNow = sent;
    return answer;
  } finally {
    share.release(share.granted - sentNow);
  }
}

/** How many of a team's pending members were never e-mailed their invitation (the console offers to send them). */
export async function invitationsNeverEmailed(ctx: ServiceContext, teamId: string): Promise<number> {
  await requireTeam(ctx, teamId);
  return countNeverEmailed(ctx.db, teamId);
}
