import type { SessionEndResponse } from '@flexgate/shared';
import type { FlexgateClient } from './client';
import type { RunningCopy } from './copies';
import type { Grant, Refusal, VerifiedGrant } from './types';

export interface RunOptions {
  /**
   * The longest wait between two check-ins (default 5 minutes). A shorter lease is renewed sooner:
   * the next heartbeat comes after half the time the entitlement has left, at most this.
   */
  heartbeatMs?: number;
  team?: string;
  /** The machine the product was launched on; its heartbeats and its close name it (default: the client's). */
  machine?: string;
  onEvent?: (event: RunEvent) => void;
  /**
   * R7b: when the product became idle (no meaningful use), or null while in use. Idle stretches of
   * 15 minutes or more are reported with the heartbeats, and the session ends that much later.
   */
  idleSince?: () => Date | null;
}

/** R7b: only idle stretches this long are reported (Flex: 15 minutes). */
export const IDLE_MIN_MS = 15 * 60_000;

/** The idle time to report now: the part of the current stretch not reported yet, once the stretch is 15 minutes long. */
export function idleToReport(idleSince: Date | null, reportedUntil: Date | null, now: Date): number {
  if (!idleSince || now.getTime() - idleSince.getTime() < IDLE_MIN_MS) return 0;
  const from = Math.max(idleSince.getTime(), reportedUntil?.getTime() ?? 0);
  return Math.max(0, Math.floor((now.getTime() - from) / 1000));
}

export type RunEvent =
  | { type: 'renewed'; grant: VerifiedGrant; nextSession: boolean }
  | { type: 'offline'; reason: string; runsUntil: string }
  | { type: 'refused'; refusal: Refusal; runsUntil: string }
  | { type: 'stopped'; outcome: RunOutcome };

export type RunOutcome =
  /**
   * `othersRunning`: copies of the session still running on this machine, which keep it open (not
   * ended); `notEnded`: why the end could not be sent (the session then runs out on the gateway).
   */
  | { reason: 'closed'; ended: SessionEndResponse | null; othersRunning?: number; notEnded?: string }
  | { reason: 'entitlement-expired'; message: string }
  /** The gateway refused the session itself (R7a: refunded and void): the product stops at once. */
  | { reason: 'session-refused'; refusal: Refusal; message: string };

export interface RunningProduct {
  /** The entitlement the product runs on now. */
  readonly grant: Grant;
  /** Checks in at once instead of waiting for the next heartbeat. */
  heartbeatNow(): Promise<void>;
  /** Closes the product: ends the usage session (free within 5 minutes, R7a). */
  stop(): Promise<RunOutcome>;
  readonly done: Promise<RunOutcome>;
}

export const DEFAULT_HEARTBEAT_MS = 5 * 60_000;
/** setTimeout keeps 32-bit delays; longer waits are made of shorter ones. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Not sooner than this (unless `heartbeatMs` asks to), so that a lease about to run out is not asked about in a loop. */
const MIN_HEARTBEAT_MS = 1000;

/**
 * When to check in next: half the time the entitlement has left, at most `maxMs`. A new Flex
 * session's entitlement is a 10-minute lease (R7a), renewed for the whole day by the first
 * heartbeat after its free window; halving keeps a second try before the lease runs out.
 */
export function nextHeartbeatMs(expiresAt: string, now: Date, maxMs: number): number {
  const half = (Date.parse(expiresAt) - now.getTime()) / 2;
  return Math.min(maxMs, Math.max(MIN_HEARTBEAT_MS, half));
}

/**
 * Keeps a launched product entitled while it runs: heartbeats renew the entitlement (settle the
 * day after its free window, and past 24 hours open the next session, R7); without the gateway it
 * runs on until `exp`, then stops. A session the gateway refuses (refunded, R7a) stops at once.
 */
export function runProduct(client: FlexgateClient, product: string, first: Grant, options: RunOptions = {}): RunningProduct {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const machine = options.machine !== undefined ? { machine: options.machine } : {};
  let grant: Grant = first;
  let lastRefusal: Refusal | null = null;
  let finished = false;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  let settle: (outcome: RunOutcome) => void = () => {};
  const done = new Promise<RunOutcome>((resolve) => {
    settle = resolve;
  });
  const emit = (event: RunEvent) => options.onEvent?.(event);
  // This copy, among the copies of its session on this machine (none for subscriptions, trials and provisional launches).
  const attach = (g: Grant): Promise<RunningCopy | null> =>
    !g.provisional && g.session ? client.attach(product, g.session.id, options.machine).catch(() => null) : Promise.resolve(null);
  let copy = attach(first);
  const release = async () => (await copy)?.release().catch(() => 0) ?? 0;

  function finish(outcome: RunOutcome): RunOutcome {
    if (finished) return outcome;
    finished = true;
    void release();
    clearTimeout(heartbeatTimer);
    clearTimeout(expiryTimer);
    emit({ type: 'stopped', outcome });
    settle(outcome);
    return outcome;
  }

  function armExpiry() {
    clearTimeout(expiryTimer);
    const left = Date.parse(grant.expiresAt) - client.now().getTime();
    if (left <= 0) {
      const why = lastRefusal
        ? ` The gateway refused to renew it: ${lastRefusal.reason}`
        : ' The gateway could not be reached to renew it.';
      finish({
        reason: 'entitlement-expired',
        message: `The entitlement for ${product} expired at ${new Date(grant.expiresAt).toLocaleString()}.${why} The product stops.`,
      });
      return;
    }
    expiryTimer = setTimeout(armExpiry, Math.min(left, MAX_TIMER_MS));
  }

  let idleReportedUntil: Date | null = null;
  async function renew(): Promise<void> {
    if (finished) return;
    const at = client.now();
    const idleSeconds = idleToReport(options.idleSince?.() ?? null, idleReportedUntil, at);
    if (idleSeconds > 0) idleReportedUntil = at;
    const result =
      !grant.provisional && grant.session
        ? await client.heartbeat({ product, sessionId: grant.session.id, ...machine, ...(idleSeconds > 0 && { idleSeconds }) })
        : // Subscriptions and trials have no session; a provisional launch must be reported first.
          await client.launch(product, { fresh: true, ...(options.team !== undefined && { team: options.team }) });
    if (finished) return;
    if (result.granted && !result.provisional) {
      const nextSession = grant.session?.id !== undefined && result.session?.id !== grant.session.id;
      if (result.session?.id !== grant.session?.id) {
        void release();
        copy = attach(result);
      }
      grant = result;
      lastRefusal = null;
      emit({ type: 'renewed', grant: result, nextSession });
    } else if (!result.granted) {
      if (result.code === 'gateway-unreachable') emit({ type: 'offline', reason: result.reason, runsUntil: grant.expiresAt });
      else if (result.code === 'conflict' && grant.session) {
        // R7a: the session is void (closed within its free window and refunded): nothing pays for this run.
        finish({
          reason: 'session-refused',
          refusal: result,
          message: `The gateway refused the session of ${product}: ${result.reason} The product stops.`,
        });
        return;
      } else {
        lastRefusal = result;
        emit({ type: 'refused', refusal: result, runsUntil: grant.expiresAt });
      }
    }
    armExpiry();
  }

  function schedule() {
    heartbeatTimer = setTimeout(
      () => {
        renew()
          .catch(() => {})
          .finally(() => {
            if (!finished) schedule();
          });
      },
      nextHeartbeatMs(grant.expiresAt, client.now(), heartbeatMs),
    );
  }

  armExpiry();
  if (!finished) schedule();

  return {
    get grant() {
      return grant;
    },
    heartbeatNow: renew,
    async stop() {
      if (finished) return done;
      let ended: SessionEndResponse | null = null;
      clearTimeout(heartbeatTimer);
      const othersRunning = await release();
      // Another copy of this session runs here: it keeps the day (and ends it when it closes).
      if (othersRunning > 0) return finish({ reason: 'closed', ended: null, othersRunning });
      if (!grant.provisional && grant.session) {
        try {
          ended = await client.end({ product, sessionId: grant.session.id, ...machine });
        } catch (err) {
          // Closing offline (or signed out meanwhile): the session simply runs out on the gateway.
          return finish({ reason: 'closed', ended: null, notEnded: err instanceof Error ? err.message : String(err) });
        }
      }
      return finish({ reason: 'closed', ended });
    },
    done,
  };
}
