/**
 * `node --import tsx test/bench/member-fold-migration.ts [members] [postgres://…]`: how long
 * migration 027 (each member's `name_fold`, folded in TypeScript a batch at a time) takes on two
 * teams of `members` (10,000 by default) written before it, on a fresh SQLite file and, given a
 * URL, on a fresh database of that PostgreSQL server (created and dropped here). The members table
 * is locked for that long (the migration's transaction), so it is what an upgrade makes launches wait.
 */
import { connect, migrate } from '@flexgate/gateway';
import { onEachEngine } from './engines';

const members = Number(process.argv[2] ?? 10_000);
const pgUrl = process.argv[3];

async function measure(label: string, url: string): Promise<void> {
  const database = connect({ url });
  try {
    await migrate(database, '026_outbox_mailbox');
    // The schema before 027: no name_fold.
    const db = database.db as any;
    for (const team of ['t1', 't2']) {
      await db.insertInto('teams').values({ id: team, name: team, created_at: 'x' }).execute();
      for (let i = 0; i < members; i += 500) {
        const rows = Array.from({ length: Math.min(500, members - i) }, (_, k) => ({
          team_id: team,
          autodesk_id: `person.${team}.${String(i + k).padStart(6, '0')}@example.com`,
          name: `Ézio PERSON ${i + k}`,
          guest: 0,
          all_products: 0,
          status: 'active',
          created_at: 'x',
        }));
        await db.insertInto('members').values(rows).execute();
      }
    }
    const started = performance.now();
    await migrate(database);
    console.log(`${label}: ${2 * members} members, migration 027 took ${(performance.now() - started).toFixed(0)} ms`);
  } finally {
    await database.close();
  }
}

await onEachEngine('fg-fold', pgUrl, measure);
