import { type Kysely, sql } from 'kysely';
import type { Engine } from '../connect';

// Migrations see the database untyped on purpose: they describe history, not today's schema.
// biome-ignore lint/suspicious/noExplicitAny: Kysely's recommended type for migrations
type AnyDB = Kysely<any>;

export async function up(db: AnyDB, engine: Engine): Promise<void> {
  const autoId = engine === 'postgres' ? 'bigserial' : 'integer';
  await db.schema
    .createTable('products')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('daily_rate', 'integer', (c) => c.notNull().check(sql`daily_rate > 0`))
    .addColumn('added_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('teams')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('accounts')
    .addColumn('autodesk_id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('admins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('admin_teams')
    .addColumn('admin_id', 'text', (c) => c.notNull().references('admins.id').onDelete('cascade'))
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addPrimaryKeyConstraint('admin_teams_pk', ['admin_id', 'team_id'])
    .execute();

  await db.schema
    .createTable('licenses')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('subscription', 'trial')`))
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('product_key', 'text', (c) => c.notNull().references('products.key'))
    .addColumn('starts_at', 'text', (c) => c.notNull())
    .addColumn('ends_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('licenses_by_user').on('licenses').columns(['autodesk_id', 'product_key']).execute();

  await db.schema
    .createTable('members')
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('guest', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('all_products', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'invited')`))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('members_pk', ['team_id', 'autodesk_id'])
    .execute();
  await db.schema.createIndex('members_by_user').on('members').column('autodesk_id').execute();

  await db.schema
    .createTable('member_products')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('product_key', 'text', (c) => c.notNull().references('products.key'))
    .addPrimaryKeyConstraint('member_products_pk', ['team_id', 'autodesk_id', 'product_key'])
    .addForeignKeyConstraint('member_products_member', ['team_id', 'autodesk_id'], 'members', ['team_id', 'autodesk_id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();

  await db.schema
    .createTable('team_defaults')
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('product_key', 'text', (c) => c.notNull().references('products.key'))
    .addPrimaryKeyConstraint('team_defaults_pk', ['team_id', 'product_key'])
    .execute();

  await db.schema
    .createTable('invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .addColumn('superseded_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('invitations_by_member').on('invitations').columns(['team_id', 'autodesk_id']).execute();

  await db.schema
    .createTable('lots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('tokens', 'integer', (c) => c.notNull().check(sql`tokens > 0`))
    // R4: the database itself refuses a negative lot, whatever a bug upstream might try.
    .addColumn('remaining', 'integer', (c) => c.notNull().check(sql`remaining >= 0 and remaining <= tokens`))
    .addColumn('purchased_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('origin_lot_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('lots_by_team').on('lots').columns(['team_id', 'expires_at']).execute();

  await db.schema
    .createTable('ledger')
    .addColumn('id', autoId, (c) => c.primaryKey().$call((b) => (engine === 'sqlite' ? b.autoIncrement() : b)))
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('lot_id', 'text', (c) => c.notNull().references('lots.id'))
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('purchase', 'charge', 'refund', 'transfer-out', 'transfer-in', 'expiry')`),
    )
    .addColumn('delta', 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('autodesk_id', 'text')
    .addColumn('product_key', 'text')
    .addColumn('session_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ledger_by_team').on('ledger').columns(['team_id', 'id']).execute();
  await db.schema.createIndex('ledger_by_team_at').on('ledger').columns(['team_id', 'at']).execute();
  await db.schema.createIndex('ledger_by_lot').on('ledger').column('lot_id').execute();

  await db.schema
    .createTable('usage_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('autodesk_id', 'text', (c) => c.notNull())
    .addColumn('product_key', 'text', (c) => c.notNull().references('products.key'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('starts_at', 'text', (c) => c.notNull())
    .addColumn('ends_at', 'text', (c) => c.notNull())
    .addColumn('rate', 'integer', (c) => c.notNull())
    .addColumn('charged', 'integer', (c) => c.notNull())
    .addColumn('refunded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('ended_at', 'text')
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('machine', 'text')
    .addColumn('provisional_id', 'text')
    .addColumn('entitlement', 'text', (c) => c.notNull())
    .addColumn('entitlement_exp', 'text', (c) => c.notNull())
    // R7: two launches racing to open the next session of (user, product) collide here; one wins.
    .addUniqueConstraint('usage_sessions_one_at_a_time', ['autodesk_id', 'product_key', 'seq'])
    .execute();
  await db.schema.createIndex('usage_sessions_by_team').on('usage_sessions').columns(['team_id', 'starts_at']).execute();
  await db.schema
    .createIndex('usage_sessions_provisional')
    .on('usage_sessions')
    .columns(['autodesk_id', 'provisional_id'])
    .unique()
    .where(sql.ref('provisional_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_pk', ['scope', 'key'])
    .execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('retired_at', 'text')
    .addColumn('drop_after', 'text')
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', autoId, (c) => c.primaryKey().$call((b) => (engine === 'sqlite' ? b.autoIncrement() : b)))
    .addColumn('to_addr', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('outbox_by_to').on('outbox').columns(['to_addr', 'id']).execute();

  await db.schema
    .createTable('team_alerts')
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('marker', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('team_alerts_pk', ['team_id', 'kind', 'marker'])
    .execute();
}
