/**
 * Several instances started at the same moment on a fresh database all come up; one of
 * them migrates while the others wait (PostgreSQL: Kysely's advisory lock; SQLite: the migration
 * runs in one BEGIN IMMEDIATE transaction, db/connect.ts), and they end up with one signing key
 * between them (signing/keyring.ts), so any instance's entitlements verify with any JWKS.
 * Runs on both engines: on SQLite the instances share one database file.
 */

import { connect } from '@flexgate/gateway';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { testEngine } from '../harness/db';
import { expectLedgerMatchesBalance, newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { type Instance, type InstanceGroup, jwksOf, startGroup, viaInstance } from '../harness/instances';

let group: InstanceGroup | undefined;
afterEach(async () => {
  await group?.close();
  group = undefined;
}, 60_000);

/** Rows of a table the gateway does not expose over HTTP, read straight from the test database. */
async function query<T>(url: string, text: string): Promise<T[]> {
  if (testEngine() === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const database = connect({ url });
  try {
    return database.sqlite?.prepare(text).all() as T[];
  } finally {
    await database.close();
  }
}

describe(`instances starting at once on a fresh ${testEngine()} database`, () => {
  it('three instances started together all come up, apply each migration once and share one signing key', async () => {
    // At info, a start that hangs shows how far it got ("migrated" is logged at info).
    group = await startGroup({ count: 3, env: { FLEXGATE_LOG: 'info' } });
    const gws = group.instances;

    const migrations = await query<{ name: string; n: number }>(
      group.database.url,
      'select name, count(*) as n from kysely_migration group by name order by name',
    );
    expect(migrations.length).toBeGreaterThanOrEqual(2);
    expect(migrations[0]?.name).toBe('001_init');
    for (const m of migrations) expect(Number(m.n), m.name).toBe(1);
    const keys = await query<{ kid: string }>(group.database.url, 'select kid from signing_keys where retired_at is null');
    expect(keys.length, 'unretired signing keys').toBe(1);

    // Every instance serves, publishes the same JWKS, and verifies what the others signed.
    const jwks = await Promise.all(gws.map((gw) => jwksOf(gw)));
    for (const j of jwks) expect(j.jwks).toEqual(jwks[0]?.jwks);
    const first = viaInstance(gws[0] as Instance);
    await seedCatalog(first);
    const team = await newTeam(first, 100);
    const user = await newMember(first, team, ['autocad', 'revit', 'maya']);
    const products = ['autocad', 'revit', 'maya'];
    for (const [i, gw] of gws.entries()) {
      const answer = expectStatus(await gw.anon.as(user.api.token as string).post('/v1/launch', { product: products[i] }), 200);
      for (const j of jwks) await jwtVerify(answer.entitlement, j.keySet, { algorithms: ['EdDSA'] });
    }
    for (const gw of gws) await expectLedgerMatchesBalance(viaInstance(gw), team);
  }, 120_000);
});
