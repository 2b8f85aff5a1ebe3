import { mailboxOf, type OutboxMessage } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import type { Mail } from '../../domain/mails';
import type { DB } from '../schema';
import type { Tx } from '../tx';

export type { Mail };

/** R14: written in the transaction of the change that causes it, so a mail exists iff the change does. */
export async function enqueueMail(trx: Tx, mails: readonly Mail[], createdAt: string): Promise<void> {
  // In parts: a bulk invitation send writes thousands, and one statement holds a bounded number of values.
  for (let i = 0; i < mails.length; i += 500) {
    await trx
      .insertInto('outbox')
      .values(
        mails.slice(i, i + 500).map((m) => ({
          to_addr: m.to.toLowerCase(),
          mailbox: mailboxOf(m.to),
          subject: m.subject,
          text: m.text,
          kind: m.kind,
          created_at: createdAt,
          sent_at: null,
          attempts: 0,
          last_error: null,
          next_attempt_at: null,
        })),
      )
      .execute();
  }
}

/** Oldest first, the messages after id `after`. */
export async function listOutbox(db: Kysely<DB>, to: string | undefined, limit: number, after = 0): Promise<OutboxMessage[]> {
  let q = db.selectFrom('outbox').selectAll().where('id', '>', after);
  if (to !== undefined) q = q.where('to_addr', '=', to.toLowerCase());
  const rows = await q.orderBy('id').limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    to: r.to_addr,
    subject: r.subject,
    text: r.text,
    kind: r.kind,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    attempts: Number(r.attempts),
    lastError: r.last_error,
  }));
}

export interface PendingMail extends Mail {
  id: number;
  attempts: number;
}

/** Unsent messages whose next attempt is due, oldest first. */
export async function dueMail(db: Kysely<DB>, nowIso: string, maxAttempts: number, limit: number): Promise<PendingMail[]> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'to_addr', 'subject', 'text', 'kind', 'attempts'])
    .where('sent_at', 'is', null)
    .where('attempts', '<', maxAttempts)
    .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', nowIso)]))
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    to: r.to_addr,
    subject: r.subject,
    text: r.text,
    kind: r.kind,
    attempts: Number(r.attempts),
  }));
}

/**
 * Takes a message for one sending attempt: a guarded update, so that of several gateway instances
 * polling the same outbox only one sends it (until the lease runs out after a crash).
 */
export async function claimMail(db: Kysely<DB>, m: PendingMail, nowIso: string, leaseUntilIso: string): Promise<boolean> {
  const res = await db
    .updateTable('outbox')
    .set({ next_attempt_at: leaseUntilIso, attempts: m.attempts + 1 })
    .where('id', '=', m.id)
    .where('sent_at', 'is', null)
    .where('attempts', '=', m.attempts)
    .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', nowIso)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Sent: the text the outbox keeps from now on replaces the one delivered (`sentText`). */
export async function markSent(db: Kysely<DB>, id: number, sentAtIso: string, keptText: string): Promise<void> {
  await db.updateTable('outbox').set({ sent_at: sentAtIso, last_error: null, text: keptText }).where('id', '=', id).execute();
}

/** Invitation e-mails not sent yet: their texts hold a token (sealed under the KEK, or in clear without one). */
export async function unsentInvitations(trx: Tx): Promise<{ id: number; to: string; text: string }[]> {
  const rows = await trx
    .selectFrom('outbox')
    .select(['id', 'to_addr', 'text'])
    .where('kind', '=', 'invitation')
    .where('sent_at', 'is', null)
    .execute();
  return rows.map((r) => ({ id: Number(r.id), to: r.to_addr, text: r.text }));
}

export async function replaceText(trx: Tx, id: number, text: string): Promise<void> {
  await trx.updateTable('outbox').set({ text }).where('id', '=', id).execute();
}

export async function markFailed(db: Kysely<DB>, id: number, error: string, retryAtIso: string): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ last_error: error.slice(0, 1000), next_attempt_at: retryAtIso })
    .where('id', '=', id)
    .execute();
}

/**
 * When the mails of `kind` to the mailboxes of `to` (`mailboxOf`: `ana+1@x.com` and `ana@x.com` are
 * one) since `sinceIso` were written, newest first, at most `n` per mailbox, keyed by mailbox (a
 * mailbox with none is absent).
 */
export async function recentMailsTo(
  db: Kysely<DB>,
  to: readonly string[],
  kind: string,
  sinceIso: string,
  n: number,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const mailboxes = [...new Set(to.map(mailboxOf))];
  for (let i = 0; i < mailboxes.length; i += 500) {
    const rows = await db
      .selectFrom('outbox')
      .select(['mailbox', 'created_at'])
      .where('mailbox', 'in', mailboxes.slice(i, i + 500))
      .where('kind', '=', kind)
      .where('created_at', '>=', sinceIso)
      .orderBy('created_at', 'desc')
      .execute();
    for (const r of rows) {
      if (r.mailbox === null) continue;
      const list = out.get(r.mailbox);
      if (!list) out.set(r.mailbox, [r.created_at]);
      else if (list.length < n) list.push(r.created_at);
    }
  }
  return out;
}
