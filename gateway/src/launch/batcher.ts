import { nextTurn } from '../lib/turns';

// How long a batch may wait for connections still arriving: each brings its launch a turn later.
const GATHER_MS = 2;

/**
 * Collects the items submitted during one event-loop turn, or while the previous batch runs, and
 * runs them as one batch: batches grow with the load and stay one item when it is light. One batch
 * at a time; `max` bounds a batch (what waits beyond it makes the next one). A running batch may
 * take in items submitted since it started (`more`): a charge group does once it holds its teams'
 * ledger heads, so that what arrived while it waited for them joins it instead of waiting again.
 * While connections keep arriving it waits a few more turns (`nextTurn`): Node accepts one a turn,
 * so launches that each open a connection would otherwise come one a turn and make batches of one.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    /** Answers the items in order, those `more` took in after the first ones. */
    private readonly run: (items: I[], more: (pick: (item: I) => boolean) => I[]) => Promise<O[]>,
    private readonly max: number,
    /** How long a batch may wait for connections still arriving. */
    private readonly gatherMs = GATHER_MS,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // After this turn, so that every item of the turn joins, and those of connections accepted meanwhile.
    void nextTurn(this.gatherMs).then(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const max = Math.max(1, this.max);
    const batch = this.queue.splice(0, max);
    const more = (pick: (item: I) => boolean): I[] => {
      const taken: typeof batch = [];
      const rest: typeof batch = [];
      for (const q of this.queue) (batch.length + taken.length < max && pick(q.item) ? taken : rest).push(q);
      this.queue = rest;
      batch.push(...taken);
      return taken.map((t) => t.item);
    };
    this.running = true;
    try {
      const out = await this.run(
        batch.map((b) => b.item),
        more,
      );
      for (const [i, b] of batch.entries()) b.resolve(out[i] as O);
    } catch (error) {
      for (const b of batch) b.reject(error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
