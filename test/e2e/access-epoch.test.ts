import { connect } from '@flexgate/gateway';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_TABLES } from '../../gateway/src/db/migrations/006_access_epoch';
import { newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

/**
 * The warm-launch cache trusts a decision only while `access_epoch` is unchanged, so a
 * write to ANY table an access decision reads must bump it in its own transaction. Triggers do it
 * (migration 006); this checks each table on the real database, written to directly, as a future
 * service or a hand-run SQL fix would.
 */
let gw: TestGateway;
let db: ReturnType<typeof connect>;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
  // At least one row in every access table: product, team, license, member, assignment, default, invitation.
  const team = await newTeam(gw, 100);
  const member = await newMember(gw, team, ['autocad']);
  expectStatus(
    await gw.op.post('/v1/subscriptions', {
      autodeskId: member.autodeskId,
      product: 'maya',
      endsAt: new Date(Date.now() + 86400_000).toISOString(),
    }),
    201,
  );
  expectStatus(await gw.op.put(`/v1/teams/${team}/defaults`, { products: ['revit'] }), 200);
  expectStatus(await gw.op.post(`/v1/teams/${team}/members`, { invite: 'Epoch Person <epoch.person@example.com>' }), 201);
  db = connect({ url: gw.database.url });
});
afterAll(async () => {
  await db?.close();
  await gw?.close();
});

/** A column each table has, to write it to itself. */
const COLUMN: Record<(typeof ACCESS_TABLES)[number], string> = {
  products: 'name',
  teams: 'name',
  licenses: 'ends_at',
  members: 'team_id',
  member_products: 'product_key',
  team_defaults: 'product_key',
  invitations: 'expires_at',
};

const epoch = async () => Number((await sql<{ v: number }>`select v from access_epoch where id = 1`.execute(db.db)).rows[0]?.v);

describe('every write to an access table bumps the access epoch', () => {
  for (const table of ACCESS_TABLES) {
    it(`${table}: an UPDATE committed outside the services moves the epoch`, async () => {
      const before = await epoch();
      const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db.db);
      expect(Number(rows[0]?.n)).toBeGreaterThan(0);
      // A no-op assignment is still a write: the trigger cannot tell, and must not need to.
      await sql`update ${sql.table(table)} set ${sql.ref(COLUMN[table])} = ${sql.ref(COLUMN[table])}`.execute(db.db);
      expect(await epoch()).toBeGreaterThan(before);
    });
  }

  it('a launch that only charges (sessions, lots, ledger) leaves the epoch alone, so warm launches stay cached', async () => {
    const team = await newTeam(gw, 100);
    const u = await newMember(gw, team, ['autocad']);
    const before = await epoch();
    expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(await epoch()).toBe(before);
  });
});
