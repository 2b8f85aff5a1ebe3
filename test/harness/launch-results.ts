import type { LaunchResult } from '@flexgate/client';

/** The client's answer as a verified grant (online, or from its cache), or the test fails saying what came. */
export function granted(r: LaunchResult) {
  if (!r.granted || r.provisional) throw new Error(`expected a verified grant, got ${JSON.stringify(r)}`);
  return r;
}

/** The client's answer as a provisional launch (offline, under its allowance). */
export function provisional(r: LaunchResult) {
  if (!r.granted || !r.provisional) throw new Error(`expected a provisional launch, got ${JSON.stringify(r)}`);
  return r;
}

/** The client's answer as a refusal. */
export function refused(r: LaunchResult) {
  if (r.granted) throw new Error(`expected a refusal, got ${JSON.stringify(r)}`);
  return r;
}
