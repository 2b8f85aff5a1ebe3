import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema';

/** The failures counted for this Autodesk ID, if any: when it may try again. */
export async function signInFailures(db: Kysely<DB>, autodeskId: string): Promise<{ retryAt: string | null } | undefined> {
  const row = await db.selectFrom('signin_failures').select('retry_at').where('autodesk_id', '=', autodeskId).executeTakeFirst();
  return row && { retryAt: row.retry_at };
}

/**
 * Counts one failure atomically (concurrent failures on several instances each count) and returns
 * the count; failures older than `forgetBefore` no longer count.
 */
export async function countFailure(db: Kysely<DB>, autodeskId: string, nowIso: string, forgetBefore: string): Promise<number> {
  const row = await db
    .insertInto('signin_failures')
    .values({ autodesk_id: autodeskId, failures: 1, last_failure_at: nowIso, retry_at: null })
    .onConflict((oc) =>
      oc.column('autodesk_id').doUpdateSet({
        failures: sql<number>`case when ${sql.ref('signin_failures.last_failure_at')} < ${forgetBefore} then 1 else ${sql.ref('signin_failures.failures')} + 1 end`,
        last_failure_at: nowIso,
      }),
    )
    .returning('failures')
    .executeTakeFirstOrThrow();
  return Number(row.failures);
}

export async function delayUntil(db: Kysely<DB>, autodeskId: string, retryAt: string): Promise<void> {
  await db
    .updateTable('signin_failures')
    .set({ retry_at: retryAt })
    .where('autodesk_id', '=', autodeskId)
    .where((eb) => eb.or([eb('retry_at', 'is', null), eb('retry_at', '<', retryAt)]))
    .execute();
}

export async function forgetFailures(db: Kysely<DB>, autodeskId: string): Promise<void> {
  await db.deleteFrom('signin_failures').where('autodesk_id', '=', autodeskId).execute();
}
