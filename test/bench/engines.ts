import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Runs `measure` on a fresh SQLite file, then, when `pgUrl` is given, on a scratch database of that
 * PostgreSQL server (created for the run and dropped after it), each labelled by its engine.
 */
export async function onEachEngine(
  prefix: string,
  pgUrl: string | undefined,
  measure: (label: string, url: string) => Promise<void>,
): Promise<void> {
  await measure('SQLite', `sqlite:${join(mkdtempSync(join(tmpdir(), `${prefix}-`)), 'db.sqlite')}`);
  if (!pgUrl) return;
  const name = `${prefix.replace(/\W/g, '_')}_${process.pid}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  try {
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    await measure('PostgreSQL', url.toString());
  } finally {
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
}
