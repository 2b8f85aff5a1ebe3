/** Resolves on a later turn of the event loop, after the I/O (other requests) waiting now. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs a stepped computation (a generator that yields between steps), letting the event loop turn between steps. */
export async function runInTurns<T>(steps: Generator<unknown, T>): Promise<T> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    await nextTurn();
  }
}
