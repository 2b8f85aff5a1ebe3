import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { type ChargeJob, type ChargeOutcome, chargeGroup, type GroupResult, type GroupTask } from './charge-group';
import type { LaunchFacts } from './hot';
import type { DB } from './schema';

export type { ChargeJob, ChargeOutcome } from './charge-group';

interface Pending {
  task: GroupTask;
  /** What the task resolves to when its group could not run: the caller takes the general path. */
  instead: LaunchFacts | ChargeOutcome | null;
  done: (value: LaunchFacts | ChargeOutcome | null) => void;
}

/**
 * The launch's side of the grouped charges on SQLite (db/charge-group.ts), on the gateway's own
 * connection: every task submitted during one event-loop turn, or while a group waits for the
 * connection, joins the next group, so groups grow with the load. Nothing is resolved before its
 * group has committed.
 */
export class SqliteCharges {
  private queue: Pending[] = [];
  private running = false;
  private scheduled = false;
  private readonly group: (tasks: GroupTask[]) => GroupResult[];

  constructor(
    /** Only for its connection lock: a Kysely transaction spans awaits, and a group must never run inside one. */
    private readonly db: Kysely<DB>,
    handle: SQLite.Database,
    /** Told of a task that failed unexpectedly; its launch then took the general path. */
    private readonly onFailure: (message: string) => void = () => {},
  ) {
    this.group = chargeGroup(handle);
  }

  /** Opens (or finds) the session of `job`, with the other charges of its group. */
  charge(job: ChargeJob): Promise<ChargeOutcome> {
    return this.enqueue({ kind: 'charge', job }, { kind: 'fallback', why: 'group not committed' }) as Promise<ChargeOutcome>;
  }

  /**
   * A launch's facts (db/hot.ts `launchFacts`), read by the writer inside the next group: a cold
   * launch reads what the last group just wrote from the writer's page cache, where the read-only
   * connection would read it back from the WAL. Null when the group could not run.
   */
  facts(autodeskId: string, product: string, team: string | undefined, nowIso: string): Promise<LaunchFacts | null> {
    return this.enqueue({ kind: 'facts', autodeskId, product, team, nowIso }, null) as Promise<LaunchFacts | null>;
  }

  private enqueue(task: GroupTask, instead: Pending['instead']): Promise<Pending['instead']> {
    return new Promise((done) => {
      this.queue.push({ task, instead, done });
      this.schedule();
    });
  }

  /** One group at a time: what arrives meanwhile waits and makes the next group larger. */
  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // After this event-loop turn, so that every launch of the turn joins.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const pending = this.queue;
    this.queue = [];
    this.running = true;
    const tasks = pending.map((p) => p.task);
    // The group could not commit (another process held the file past busy_timeout, or a charge
    // failed part-way): nothing of it was written, and each launch takes the general path.
    const results = await this.db
      .connection()
      .execute(async () => this.group(tasks))
      .catch((error: unknown) => {
        this.onFailure(error instanceof Error ? error.message : String(error));
        return null;
      });
    this.running = false;
    for (const [i, p] of pending.entries()) {
      const r = results?.[i];
      if (r && 'ok' in r) p.done(r.ok);
      else {
        if (r) this.onFailure(r.failed);
        p.done(p.instead);
      }
    }
    this.schedule();
  }
}
