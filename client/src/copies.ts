import { randomBytes } from 'node:crypto';
import type { DiskStore } from './cache';

/**
 * The copies of a product running on this machine, one file each under `runs/` (its process id
 * and session). Two windows of one product share the machine's session: the one closed first must
 * not end it (R7a would refund the day, and the gateway then refuses the other copy's heartbeats).
 */
export interface RunningCopy {
  /** Forgets this copy; how many other copies of its session still run on this machine. */
  release(): Promise<number>;
}

interface CopyRecord {
  pid: number;
  product: string;
  sessionId: string;
  /** The machine it runs as (`runProduct`'s `machine`), or '' for the client's own. */
  machine: string;
  /** The clock floor when written (floor.ts). */
  seenAt: string;
}

const DIR = 'runs';

export function createCopies(store: DiskStore, now: () => Date, pid = process.pid) {
  return {
    async attach(product: string, sessionId: string, machine = ''): Promise<RunningCopy> {
      // One file per copy, two copies in one process included.
      const file = `${encodeURIComponent(sessionId)}__${pid}-${randomBytes(4).toString('hex')}.json`;
      const name = `${DIR}/${file}`;
      await store.write(name, { pid, product, sessionId, machine, seenAt: now().toISOString() } satisfies CopyRecord);
      return {
        async release() {
          await store.remove(name);
          let others = 0;
          for (const found of await store.list(DIR)) {
            if (found === file) continue;
            const other = `${DIR}/${found}`;
            const record = await store.read<CopyRecord>(other);
            if (!record || typeof record.pid !== 'number' || !alive(record.pid)) {
              // A copy that crashed or was killed left its file: nothing runs there any more.
              await store.remove(other);
            } else if (record.sessionId === sessionId && (record.machine ?? '') === machine) others++;
          }
          return others;
        },
      };
    },
  };
}

/** Whether a process with this id exists (EPERM: it does, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
