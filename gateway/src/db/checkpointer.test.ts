import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from './checkpointer';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function database(): { path: string; db: SQLite.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'fg-ckpt-'));
  dirs.push(dir);
  const path = join(dir, 'db.sqlite');
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('create table t (id integer primary key, body text not null)');
  return { path, db };
}

/**
 * About 24 MB through the WAL (6,000 pages) in 600 commits, in 30 bursts with a pause after each,
 * as a server's load comes; returns the largest the WAL file grew. A PASSIVE checkpoint can only
 * let the writer start the WAL over once it has caught up, which the pauses allow.
 */
async function write(db: SQLite.Database): Promise<number> {
  const insert = db.prepare('insert into t (body) values (?)');
  const commit = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run('x'.repeat(3000));
  });
  let largest = 0;
  for (let burst = 0; burst < 30; burst++) {
    for (let k = 0; k < 20; k++) {
      commit(10);
      largest = Math.max(largest, statSync(`${db.name}-wal`).size);
    }
    await sleep(100);
  }
  return largest;
}

describe('WAL checkpoints on their own thread', () => {
  it('keeps the WAL small while the serving connection never checkpoints below its safety net', async () => {
    const { path, db } = database();
    const checkpointer = startCheckpointer(path, db, { intervalMs: 20 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    const largest = await write(db);
    await checkpointer.stop();
    // The control below shows the same writes grow the WAL past 20 MB when nothing else checkpoints.
    expect(largest).toBeLessThan(12 * 2 ** 20);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(db.prepare('select count(*) as n from t').get()).toEqual({ n: 6000 });
    db.close();
  });

  it('control: with the safety net alone and no thread, the same writes grow the WAL past 20 MB', async () => {
    const { db } = database();
    db.pragma('wal_autocheckpoint = 10000');
    expect(await write(db)).toBeGreaterThan(20 * 2 ** 20);
    db.close();
  });

  it('never keeps a process alive: a script that starts one and never stops it exits on its own', () => {
    const { path, db } = database();
    db.close();
    const script = join(dirname(path), 'starts.mts');
    const module = fileURLToPath(new URL('./checkpointer.ts', import.meta.url));
    writeFileSync(
      script,
      `import SQLite from ${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))};\nimport { startCheckpointer } from ${JSON.stringify(module)};\n` +
        `startCheckpointer(${JSON.stringify(path)}, new SQLite(${JSON.stringify(path)}), { onError: console.error });\nconsole.log('started');\n`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(run.error, 'still running after 20 s').toBeUndefined();
    expect([run.status, run.stdout.trim()], run.stderr).toEqual([0, 'started']);
  }, 30_000);

  it('stops cleanly: the thread closes its connection and the file stays whole for the next opener', async () => {
    const { path, db } = database();
    const checkpointer = startCheckpointer(path, db, { intervalMs: 5 });
    await write(db);
    await checkpointer.stop();
    db.close();
    const again = new SQLite(path);
    expect(again.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(again.prepare('select count(*) as n from t').get()).toEqual({ n: 6000 });
    again.close();
  });
});
