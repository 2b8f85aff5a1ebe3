/**
 * `node --import tsx test/bench/schema-check.ts [postgres://…]`: what the check every gateway runs
 * each SCHEMA_CHECK_MS (server.ts: `newerMigrations`, the applied migrations read and compared with
 * this version's) costs, on a fresh SQLite file and, given its URL, on an empty PostgreSQL database
 * (created beforehand: `createdb`; it is migrated here). Wall time a check, awaited one after another.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, migrate } from '@flexgate/gateway';
import { newerMigrations } from '../../gateway/src/db/migrate';
import { SCHEMA_CHECK_MS } from '../../gateway/src/server';

const dir = mkdtempSync(join(tmpdir(), 'fg-schema-check-'));
const urls = [`sqlite:${join(dir, 'db.sqlite')}`, ...process.argv.slice(2)];
for (const url of urls) {
  const database = connect({ url });
  await migrate(database);
  for (let i = 0; i < 200; i++) await newerMigrations(database);
  const n = 2_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) await newerMigrations(database);
  const ms = (performance.now() - started) / n;
  const share = ms / SCHEMA_CHECK_MS;
  console.log(
    `${database.engine}: ${(ms * 1000).toFixed(0)} µs a check, one every ${SCHEMA_CHECK_MS} ms: ${(share * 100).toFixed(4)}% of the time`,
  );
  await database.close();
}
rmSync(dir, { recursive: true, force: true });
