import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Another process in the middle of a long write to a SQLite file: it holds the write lock until released. */
export interface WriteLockHolder {
  /** Commits and lets the process exit; resolves once it has. */
  release(): Promise<void>;
}

/**
 * Takes the file's write lock (BEGIN IMMEDIATE) in a process of its own, as a `--cluster` worker's
 * import or another instance would, and holds it until `release()`, or `ms` when given.
 */
export async function holdWriteLock(file: string, ms?: number): Promise<WriteLockHolder> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3', {
    paths: [fileURLToPath(new URL('../../gateway', import.meta.url))],
  });
  const script = `const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(file)});
    db.exec('begin immediate'); process.stdout.write('locked\\n');
    const release = () => { db.exec('commit'); db.close(); process.exit(0); };
    process.stdin.once('data', release); process.stdin.once('end', release);
    ${ms === undefined ? '' : `setTimeout(release, ${ms});`}`;
  const holder = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => holder.once('exit', resolve));
  // A holder released by its own timer may be gone before its exit is seen: the release then
  // writes into a closed pipe, which is no error of the test's.
  holder.stdin.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    exited.then((code) => reject(new Error(`the write lock's holder exited (${code})`)));
  });
  return {
    release: async () => {
      if (holder.exitCode === null) holder.stdin.end('release\n');
      await exited;
    },
  };
}
