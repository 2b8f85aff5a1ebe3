import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from './connect';
import { migrate } from './migrate';

const base = mkdtempSync(join(tmpdir(), 'fg-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

// The database holds the private signing and root keys (in clear without FLEXGATE_KEK): another
// user of the machine must not be able to read them and sign entitlements.
describe('the SQLite files the gateway creates', () => {
  it("a new database, its directory, -wal and -shm are its owner's only, whatever the umask", async () => {
    const previous = process.umask(0o022);
    try {
      const dir = join(base, 'data', 'nested');
      const path = join(dir, 'flexgate.db');
      const database = connect({ url: `sqlite:${path}` });
      try {
        await migrate(database);
        expect(mode(path)).toBe(0o600);
        expect(mode(`${path}-wal`)).toBe(0o600);
        expect(mode(`${path}-shm`)).toBe(0o600);
        expect(mode(dir)).toBe(0o700);
        expect(mode(join(base, 'data'))).toBe(0o700);
      } finally {
        await database.close();
      }
    } finally {
      process.umask(previous);
    }
  });

  it('an existing file keeps the mode its operator gave it', async () => {
    const path = join(base, 'given.db');
    writeFileSync(path, '');
    chmodSync(path, 0o640);
    const database = connect({ url: `sqlite:${path}` });
    try {
      await migrate(database);
      expect(mode(path)).toBe(0o640);
    } finally {
      await database.close();
    }
  });
});
