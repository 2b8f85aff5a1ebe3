/**
 * How long an Autodesk ID must wait after failed sign-ins: nothing for the first few (people
 * mistype), then a delay that doubles with each further failure, up to a cap. Counted per ID on
 * every worker and instance together (the database holds the count), so more processes do not
 * buy an attacker more guesses.
 */
export const FREE_FAILURES = 5;
export const MAX_DELAY_MS = 15 * 60_000;
/** A failure this old no longer counts: the count starts over. */
export const FAILURE_MEMORY_MS = 24 * 3600_000;

export function delayAfter(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_DELAY_MS, 1000 * 2 ** (failures - FREE_FAILURES));
}

/** Seconds to wait before trying again, or 0: `retryAt` as the guard stored it. */
export function waitSeconds(retryAt: string | null | undefined, now: Date): number {
  if (!retryAt) return 0;
  const ms = Date.parse(retryAt) - now.getTime();
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}
