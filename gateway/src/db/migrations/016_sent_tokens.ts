import type { Kysely } from 'kysely';
import type { Engine } from '../connect';

// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

/**
 * The invitation e-mails sent before the outbox dropped their tokens on delivery lose them now.
 * The pattern is the invitation e-mail's token line as it was written then (domain/mails.ts), kept
 * here so that this migration does the same thing whatever the template becomes.
 */
export async function up(db: AnyDB, _engine: Engine): Promise<void> {
  const rows: { id: number | string; text: string }[] = await db
    .selectFrom('outbox')
    .select(['id', 'text'])
    .where('kind', '=', 'invitation')
    .where('sent_at', 'is not', null)
    .execute();
  for (const r of rows) {
    const text = r.text.replace(/^Token: \S+$/gm, 'Token: (removed from the outbox once sent)');
    if (text !== r.text) await db.updateTable('outbox').set({ text }).where('id', '=', r.id).execute();
  }
}
