import type { ImportResult } from '@flexgate/shared';
import { listProductKeys } from '../db/repos/catalog';
import { insertInvitations } from '../db/repos/invitations';
import { importLock, refreshMemberStatistics, upsertMembers } from '../db/repos/members';
import { inTransaction, serialize } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { invalid } from '../domain/errors';
import { IMPORT_STEP, importSteps } from '../domain/import';
import { addMs } from '../domain/time';
import { newId } from '../lib/ids';
import { newSecret, sha256 } from '../lib/secrets';
import { nextTurn, runInTurns } from '../lib/turns';
import { audit } from './audit';
import type { ServiceContext } from './context';
import { INVITATION_MS } from './invitations';
import { requireTeam } from './teams';

// Rows from which an import refreshes the database's statistics: a small file changes no plan.
const RESTATE_ROWS = 1_000;

/**
 * R14: members from a CSV file, up to 10,000 rows, and no e-mail at all. Each row is applied
 * whole or not at all: every row is checked first (against the catalog, in memory), then the
 * valid ones are written together in one transaction in batches, and the bad ones are reported
 * with their line. A row for a member updates it (status kept); any other becomes a pending
 * member with an invitation whose e-mail is not sent (R14: no e-mail by import) until an admin
 * resends it: an existing account joins only when its person accepts (R11), as by the API.
 *
 * Checking and writing both pause every `IMPORT_STEP` rows for a turn of the event loop, so that
 * other requests are answered meanwhile (SQLite's driver is synchronous: without the pauses the
 * whole import would be one turn). The transaction stays one: other writes wait for its commit.
 * Rows are independent (the plan refuses a repeated e-mail), so writing them batch by batch
 * decides each one as writing them all at once would.
 */
export async function importMembers(ctx: ServiceContext, teamId: string, csv: string, origin: AuditOrigin): Promise<ImportResult> {
  await requireTeam(ctx, teamId);
  const plan = await runInTurns(importSteps(csv, new Set(await listProductKeys(ctx.db))));
  if ('fileError' in plan) throw invalid(plan.fileError);
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const expiresAt = addMs(now, INVITATION_MS).toISOString();
  const created = await inTransaction(ctx.db, async (trx) => {
    // One import of a team at a time: a file uploaded twice at once (a double click) or two files
    // naming the same people then apply one after the other, not row by row against each other;
    // and no change of one of its members beside it (db/repos/members.ts `lockMember`).
    await serialize(trx, importLock(teamId));
    let fresh = 0;
    for (let i = 0; i < plan.rows.length; i += IMPORT_STEP) {
      if (i > 0) await nextTurn();
      const batch = plan.rows.slice(i, i + IMPORT_STEP);
      const inserted = await upsertMembers(
        trx,
        teamId,
        batch.map((r) => ({ autodeskId: r.email, name: r.name, guest: r.guest, allProducts: r.allProducts, products: r.products })),
        nowIso,
      );
      await insertInvitations(
        trx,
        batch
          .filter((r) => inserted.has(r.email))
          .map((r) => ({
            id: newId('inv', 9),
            teamId,
            autodeskId: r.email,
            tokenHash: sha256(newSecret('inv')),
            expiresAt,
            createdAt: nowIso,
            emailedAt: null, // R14: no e-mail by import, until an admin sends it
          })),
      );
      fresh += inserted.size;
    }
    // One entry for the file, not one per row: the counts and the addresses it touched.
    await audit(trx, origin, nowIso, {
      team: teamId,
      action: 'members.imported',
      after: { created: fresh, updated: plan.rows.length - fresh, errors: plan.errors.length, members: plan.rows.map((r) => r.email) },
    });
    return fresh;
  });
  // A file this large changes how its team's rows are best read (db/repos/members.ts).
  // Statistics are an aid: the import stands without them, and autovacuum gathers them later.
  if (plan.rows.length >= RESTATE_ROWS) await refreshMemberStatistics(ctx.db).catch(() => {});
  return { created, updated: plan.rows.length - created, errors: plan.errors };
}
