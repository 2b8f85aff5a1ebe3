import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDiskStore } from './cache';
import { createCopies } from './copies';

const base = mkdtempSync(join(tmpdir(), 'fg-copies-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const now = () => new Date('2026-12-01T09:00:00Z');

describe('copies of a product running on one machine', () => {
  it('each release counts the other copies of its session still running; the last sees none', async () => {
    const store = createDiskStore(join(base, 'a'));
    const copies = createCopies(store, now);
    const first = await copies.attach('autocad', 'ses_1');
    const second = await copies.attach('autocad', 'ses_1');
    const elsewhere = await copies.attach('revit', 'ses_2');
    // The same session run as another machine (--machine): that machine's own close ends its part.
    const asOther = await copies.attach('autocad', 'ses_1', 'ws-render');
    expect(await asOther.release()).toBe(0);
    expect(await first.release()).toBe(1);
    expect(await second.release()).toBe(0);
    expect(await elsewhere.release()).toBe(0);
    expect(await store.list('runs')).toEqual([]);
  });

  it('a copy whose process is gone (crashed, killed) does not keep the session: its file is dropped', async () => {
    const store = createDiskStore(join(base, 'b'));
    // The id of a process that has exited.
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    const crashed = await createCopies(store, now, gone).attach('autocad', 'ses_1');
    expect(crashed).toBeDefined();
    const mine = await createCopies(store, now).attach('autocad', 'ses_1');
    expect(await mine.release()).toBe(0);
    expect(await store.list('runs')).toEqual([]);
  });
});
