import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from './connect';

const base = mkdtempSync(join(tmpdir(), 'fg-fresh-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

// Another process of a cluster that opened the fresh file a moment earlier, still in rollback
// mode, and is writing to it: its write lock held for `holdMs`, then committed.
const WRITER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 10000');
db.exec('begin immediate; create table early (x integer)');
parentPort.postMessage('holding');
setTimeout(() => {
  db.exec('commit');
  db.close();
  parentPort.postMessage('released');
}, workerData.holdMs);
`;

describe('several processes opening one fresh SQLite file at once', () => {
  it('one opening while another writes the still-rollback file waits for it and switches to WAL, rather than refusing to start', async () => {
    const path = join(base, 'fresh.db');
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const writer = new Worker(WRITER, { eval: true, workerData: { path, module, holdMs: 300 } });
    const messages: string[] = [];
    const released = new Promise<void>((resolve, reject) => {
      writer.on('message', (m: string) => {
        messages.push(m);
        if (m === 'released') resolve();
      });
      writer.on('error', reject);
    });
    await new Promise<void>((resolve) => writer.once('message', () => resolve()));

    // Before the fix this threw SQLITE_BUSY at once (the gateway's "stayed locked for more than 10 s").
    const database = connect({ url: `sqlite:${path}` });
    try {
      await released;
      expect(messages).toEqual(['holding', 'released']);
      expect(database.sqlite?.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(database.sqlite?.prepare("select name from sqlite_master where name = 'early'").all()).toEqual([{ name: 'early' }]);
    } finally {
      await database.close();
      await writer.terminate();
    }
  });
});
