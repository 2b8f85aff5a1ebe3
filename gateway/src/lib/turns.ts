/** Connections the process's servers accepted so far: `nextTurn` watches it (server.ts counts). */
let accepted = 0;

/** Counts a connection a server accepted (a 'connection' listener). */
export function connectionAccepted(): void {
  accepted++;
}

// Long enough to take a burst of connections, short enough that a flood cannot hold the work back.
const TURN_BUDGET_MS = 20;

const oneTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves on a later turn of the event loop, after the I/O (other requests) waiting now.
 * Node (libuv 1.45 and later) accepts one new connection a turn, so after a long step the
 * connections that came meanwhile would wait one step each: it turns again while the last turn
 * accepted one, up to `budgetMs`. A launch that opens a connection during a 10,000-row import then
 * waits for one step, not the whole import.
 */
export async function nextTurn(budgetMs = TURN_BUDGET_MS): Promise<void> {
  const started = performance.now();
  for (;;) {
    const seen = accepted;
    await oneTurn();
    if (accepted === seen || performance.now() - started > budgetMs) return;
  }
}

/** Runs a stepped computation (a generator that yields between steps), letting the event loop turn between steps. */
export async function runInTurns<T>(steps: Generator<unknown, T>): Promise<T> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    await nextTurn();
  }
}

/**
 * Rows a statement when a long list is read in steps: short enough that the connections arriving
 * during a page are accepted within `nextTurn`'s budget after it, even on a loaded machine.
 */
export const PAGE_ROWS = 500;

/**
 * A keyset-paged list of at most `total` rows, read a page a statement with a turn of the event
 * loop between pages (SQLite's driver is synchronous: 10,000 rows read and rendered at once held
 * every launch behind them). `read(limit, last)` reads the page after row `last`, the first when
 * undefined; the caller renders each page in the turn it was read in.
 */
export async function* pagesInTurns<T>(total: number, read: (limit: number, last: T | undefined) => Promise<T[]>): AsyncGenerator<T[]> {
  let last: T | undefined;
  for (let left = total; left > 0; ) {
    const limit = Math.min(PAGE_ROWS, left);
    const page = await read(limit, last);
    if (page.length > 0) yield page;
    if (page.length < limit) return;
    left -= limit;
    last = page.at(-1);
    if (left > 0) await nextTurn();
  }
}
