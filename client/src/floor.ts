import type { DiskStore } from './cache';

/** Persisting the floor on every call would be a write per launch; a minute is enough. */
export const FLOOR_PERSIST_MS = 60_000;

/**
 * The client's clock floor: it never believes a time earlier than one it has already seen, so
 * winding the clock back does not revive an expired entitlement. The floor is not one file that
 * can be deleted: it is the latest of `state.json`, of the `seenAt` every kept artefact carries,
 * and of the `iat` of every signed artefact held (the gateway saw that instant). Deleting less
 * than everything the gateway gave leaves a floor at least as late as what is left can use.
 */
export interface ClockFloor {
  /** The clock, never earlier than the floor. */
  now(): Date;
  /** Loads the floor once, moves it to now, and persists it (every minute at most). */
  tick(): Promise<Date>;
  /** An instant a signed artefact proves (its `iat`): the floor moves up to it. */
  observe(atMs: number): void;
}

export interface ClockFloorDeps {
  clock: () => Date;
  /**
   * Milliseconds from a clock the machine's user cannot set (default `performance.now`): the floor
   * moves on by the time that passes, so a wall clock held behind it does not stop time.
   */
  monotonic?: () => number;
  store: DiskStore;
  /**
   * Called when the floor is persisted: artefacts whose life ended before it record it, so that
   * each one kept carries a floor past its own expiry (cache.ts `settle`).
   */
  settle: (floor: Date) => Promise<void>;
}

interface StateRecord {
  lastSeenAt: string;
}

export function createClockFloor(deps: ClockFloorDeps): ClockFloor {
  const monotonic = deps.monotonic ?? (() => performance.now());
  // The latest instant known, as of `anchor` on the monotonic clock: it has moved on since by the
  // time that passed. A wall clock set back (or held behind) is not believed, and does not stop
  // time either: otherwise a running product would never reach its entitlement's exp offline.
  let floor = 0;
  let anchor = monotonic();
  let persisted = 0;
  let loaded: Promise<void> | null = null;
  const floorNow = () => floor + Math.max(0, monotonic() - anchor);
  const raise = (atMs: number) => {
    if (atMs > floorNow()) {
      floor = atMs;
      anchor = monotonic();
    }
  };
  const now = () => new Date(Math.max(deps.clock().getTime(), floorNow()));

  return {
    now,
    async tick() {
      loaded ??= latestKept(deps.store).then((seen) => {
        raise(seen);
        persisted = Math.max(persisted, seen);
      });
      await loaded;
      const t = now();
      raise(t.getTime());
      if (t.getTime() - persisted >= FLOOR_PERSIST_MS) {
        persisted = t.getTime();
        await deps.store.write('state.json', { lastSeenAt: t.toISOString() } satisfies StateRecord);
        await deps.settle(t);
      }
      return t;
    },
    observe(atMs) {
      if (Number.isFinite(atMs)) raise(atMs);
    },
  };
}

const JWS = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/**
 * The latest instant any file of the cache proves: `lastSeenAt` (state.json), `seenAt` (every
 * artefact), and the `iat` of each compact JWS held at the top of a file (entitlements, the key
 * set, the ID token). Unverified: a forged later instant only shortens what the forger gets.
 */
async function latestKept(store: DiskStore): Promise<number> {
  let latest = 0;
  for (const name of await store.walk()) {
    const value = await store.read<Record<string, unknown>>(name).catch(() => null);
    if (!value || typeof value !== 'object') continue;
    for (const [field, v] of Object.entries(value)) {
      if (typeof v !== 'string') continue;
      const at = field === 'seenAt' || field === 'lastSeenAt' ? Date.parse(v) : issuedAt(v);
      if (Number.isFinite(at)) latest = Math.max(latest, at);
    }
  }
  return latest;
}

/** The `iat` of a compact JWS, in ms, unverified (NaN when it has none). */
export function issuedAt(text: string): number {
  const payload = JWS.exec(text)?.[1];
  if (!payload) return Number.NaN;
  try {
    const iat = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iat?: unknown }).iat;
    return typeof iat === 'number' ? iat * 1000 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
