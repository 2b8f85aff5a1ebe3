import type { OutboxMessage } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import nodemailer from 'nodemailer';
import { claimMail, dueMail, listOutbox, markFailed, markSent, type PendingMail } from '../db/repos/outbox';
import type { DB } from '../db/schema';
import { mapToken, outboxTokenPlace, senderOf, sentText } from '../domain/mails';
import { addMs } from '../domain/time';
import { bytesOf, jsonArraySteps } from '../lib/bodies';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import { pagesInTurns } from '../lib/turns';
import type { Sealer } from '../signing/seal';
import type { ServiceContext } from './context';

/**
 * GET /v1/outbox: every e-mail the gateway wrote, sent or not (operator only). An unsent one is
 * shown as it will be sent; a sent one as the outbox keeps it, its invitation token removed.
 */
export async function outboxJson(
  ctx: ServiceContext,
  query: { to: string | undefined; after: number; limit: number },
): Promise<{ body: Uint8Array<ArrayBuffer>; count: number; lastId: number | null }> {
  const seen = { count: 0, lastId: null as number | null };
  // Up to 10,000 messages: a page a statement, each encoded in its turn (lib/bodies.ts).
  const pages = pagesInTurns(query.limit, async (n, last: OutboxMessage | undefined) => {
    const messages = await listOutbox(ctx.db, query.to, n, last?.id ?? query.after);
    seen.count += messages.length;
    seen.lastId = messages.at(-1)?.id ?? seen.lastId;
    return messages.map((m) => (m.sentAt === null ? { ...m, text: openedText(ctx.keys.sealer, m) } : m));
  });
  const body = await bytesOf(jsonArraySteps(pages));
  return { body, ...seen };
}

/** The e-mail's text as it is sent: its invitation token, sealed in the outbox, opened. */
const openedText = (sealer: Sealer, m: { to: string; text: string }) => mapToken(m.text, (t) => sealer.open(t, outboxTokenPlace(m.to)));

export interface MailSenderOptions {
  db: Kysely<DB>;
  clock: Clock;
  logger: Logger;
  smtpUrl: string;
  from: string;
  /** Opens the invitation tokens sealed in the outbox (FLEXGATE_KEK). */
  sealer: Sealer;
  /** How often the outbox is polled for due messages. */
  pollMs?: number;
  /** A failed message is tried this many times in all, then left with its last error. */
  maxAttempts?: number;
}

/** Seconds to wait before attempt n+1: 5 s, 10 s, 20 s... capped at an hour. */
export const backoffMs = (attempts: number) => Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
/** A claimed message nobody finished (a crash mid-send) is tried again after this long. */
const LEASE_MS = 5 * 60_000;

/**
 * Delivers the outbox over SMTP (nodemailer) in the background. Messages were written in the
 * transaction of the change that caused them (R14), so nothing is mailed for a change that
 * rolled back; a message is marked sent only after the SMTP server took it, so a crash between
 * the two may send it twice but never loses it. Several instances may run this at once: each
 * message is claimed by a guarded update before it is sent. A sent message keeps its text without
 * the invitation token: the outbox holds a token only until its e-mail is delivered.
 */
export class MailSender {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly transport: nodemailer.Transporter;

  constructor(private readonly o: MailSenderOptions) {
    this.transport = nodemailer.createTransport(o.smtpUrl);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.drain()
        .then(() => undefined)
        .catch((e) => this.o.logger.warn('mail sender failed', { err: String(e) }))
        .finally(() => {
          this.running = null;
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.o.pollMs ?? 1000);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  /** Sends what is due now; returns how many messages went out. */
  async drain(): Promise<number> {
    const max = this.o.maxAttempts ?? 10;
    let sent = 0;
    for (;;) {
      const now = this.o.clock.now();
      const due = await dueMail(this.o.db, now.toISOString(), max, 50);
      if (due.length === 0 || this.stopped) return sent;
      for (const m of due) {
        if (this.stopped) return sent;
        if (await this.sendOne(m, now)) sent++;
      }
      if (due.length < 50) return sent;
    }
  }

  private async sendOne(m: PendingMail, now: Date): Promise<boolean> {
    const nowIso = now.toISOString();
    if (!(await claimMail(this.o.db, m, nowIso, addMs(now, LEASE_MS).toISOString()))) return false;
    try {
      // The address as an object: a string would be parsed again, and `a:victim@x` read as a group
      // delivered to victim@x (IDs made before such addresses were refused may still hold one).
      const to = { name: '', address: m.to };
      await this.transport.sendMail({ from: senderOf(this.o.from), to, subject: m.subject, text: openedText(this.o.sealer, m) });
      await markSent(this.o.db, m.id, this.o.clock.now().toISOString(), sentText(m.text));
      return true;
    } catch (error) {
      const attempts = m.attempts + 1;
      this.o.logger.warn('mail not sent', { id: m.id, kind: m.kind, attempts, err: String(error) });
      await markFailed(this.o.db, m.id, String(error), addMs(this.o.clock.now(), backoffMs(attempts)).toISOString());
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A send stuck on an unreachable server must not hold the shutdown: its claim simply lapses.
    await Promise.race([this.running, new Promise((r) => setTimeout(r, 5_000).unref())]);
    this.transport.close();
  }
}
