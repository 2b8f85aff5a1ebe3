import { mailboxOf } from '@flexgate/shared';
import { describe, expect, it } from 'vitest';
import { withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';

// The SQL back-fill (one text per engine) must give what the gateway's `mailboxOf` gives for new rows.
describe.each(['sqlite', 'postgres'] as const)('migration 026 on %s', (engine) => {
  it('fills each e-mail’s mailbox as mailboxOf does, then and for rows written without one: the local part’s +tag dropped, nothing else', async () => {
    await withDatabaseAt(engine, '025_invitations_emailed', async (database) => {
      const { db } = database;
      const addresses = [
        'ana@x.com',
        'ana+team1@x.com',
        'ana+a+b@x.com',
        'ana.b+@x.com',
        '+ana@x.com',
        'o+hara@sub.example.co.uk',
        'josé+1@exämple.com',
        'plain.name@example.org',
      ];
      const rowsFor = (list: readonly string[]) =>
        list.map((to_addr) => ({
          to_addr,
          subject: 's',
          text: 't',
          kind: 'invitation',
          created_at: '2026-05-01T00:00:00.000Z',
          sent_at: null,
          attempts: 0,
          last_error: null,
          next_attempt_at: null,
        }));
      await db.insertInto('outbox').values(rowsFor(addresses)).execute();
      expect(await migrate(database, '026_outbox_mailbox')).toEqual(['026_outbox_mailbox']);
      const rows = await db.selectFrom('outbox').select(['to_addr', 'mailbox']).execute();
      expect(Object.fromEntries(rows.map((r) => [r.to_addr, r.mailbox]))).toEqual(
        Object.fromEntries(addresses.map((a) => [a, mailboxOf(a)])),
      );
      expect(new Set(rows.map((r) => r.mailbox))).toEqual(
        new Set(['ana@x.com', 'ana.b@x.com', '+ana@x.com', 'o@sub.example.co.uk', 'josé@exämple.com', 'plain.name@example.org']),
      );
      // A gateway older than 026, still running for a few seconds, writes e-mails without a
      // mailbox: the trigger gives them the one mailboxOf gives, so they count for the caps.
      const late = ['bo+late@x.com', 'bo@x.com', '+bo@x.com'];
      await db.insertInto('outbox').values(rowsFor(late)).execute();
      const lateRows = await db.selectFrom('outbox').select(['to_addr', 'mailbox']).where('to_addr', 'in', late).execute();
      expect(Object.fromEntries(lateRows.map((r) => [r.to_addr, r.mailbox]))).toEqual(
        Object.fromEntries(late.map((a) => [a, mailboxOf(a)])),
      );
    });
  });
});
