/**
 * `node --import tsx test/bench/member-search.ts [members] [reps] [postgres://…]`: what the Members
 * search (`listMembers` with a search, GET /v1/teams/:team/members?q=) costs against the same page
 * without one, on a team of `members` (10,000 by default) beside another team as large, on a fresh
 * SQLite file and, given a URL, on a fresh database of that PostgreSQL server (created and dropped
 * here). The search matches nobody, so it reads the whole team: its worst case. Prints the median of
 * `reps` (7) calls each, alternating, and the ratio.
 */
import { connect, migrate } from '@flexgate/gateway';
import { searchFold } from '@flexgate/shared';
import { listMembers } from '../../gateway/src/db/repos/members';
import { onEachEngine } from './engines';

const members = Number(process.argv[2] ?? 10_000);
const reps = Number(process.argv[3] ?? 7);
const pgUrl = process.argv[4];
const AT = '2026-05-01T00:00:00.000Z';

async function measure(label: string, url: string): Promise<void> {
  const database = connect({ url });
  try {
    await migrate(database);
    const { db } = database;
    for (const team of ['t1', 't2']) {
      await db.insertInto('teams').values({ id: team, name: team, created_at: AT }).execute();
      for (let i = 0; i < members; i += 500) {
        const rows = Array.from({ length: Math.min(500, members - i) }, (_, k) => ({
          team_id: team,
          autodesk_id: `person.${team}.${String(i + k).padStart(6, '0')}@example.com`,
          name: `Ézio Person ${i + k}`,
          name_fold: searchFold(`Ézio Person ${i + k}`),
          guest: 0,
          all_products: 0,
          status: 'active' as const,
          created_at: AT,
        }));
        await db.insertInto('members').values(rows).execute();
      }
    }
    const time = async (search: string | undefined) => {
      const started = performance.now();
      await listMembers(db, 't1', { limit: 100, search });
      return performance.now() - started;
    };
    const plain: number[] = [];
    const searched: number[] = [];
    await time(undefined);
    await time(searchFold('nobody at all'));
    for (let r = 0; r < reps; r++) {
      plain.push(await time(undefined));
      searched.push(await time(searchFold('nobody at all')));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const [p, s] = [median(plain), median(searched)];
    console.log(
      `${label}: ${members} members a team; first page ${p.toFixed(2)} ms, a search matching nobody ${s.toFixed(2)} ms (${(s / p).toFixed(1)}x)`,
    );
  } finally {
    await database.db.destroy();
  }
}

await onEachEngine('fg-search', pgUrl, measure);
