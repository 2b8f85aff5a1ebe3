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
 * accepted one, up to a budget. A launch that opens a connection during a 10,000-row import then
 * waits for one step, not the whole import.
 */
export async function nextTurn(): Promise<void> {
  const started = performance.now();
  for (;;) {
    const seen = accepted;
    await oneTurn();
    if (accepted === seen || performance.now() - started > TURN_BUDGET_MS) return;
  }
}

/** Runs a stepped computation (a generator that yields between steps), letting the event loop turn between steps. */
export async function runInTurns<T>(steps: Generator<unknown, T>): Promise<T> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    await nextTurn();
  }
}
