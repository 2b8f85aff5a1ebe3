/**
 * A tiny Prometheus registry: counters and one histogram kind, rendered in the text exposition
 * format (version 0.0.4). No dependency, no timers, no allocation per increment beyond the label
 * key string; label values come from bounded sets (route patterns, status codes, problem codes),
 * never from user input, so the series count stays small.
 */

import { RETRY_REASONS, type RetryReason } from '../db/errors';
import type { RetryObserver } from '../db/tx';
import type { Logger } from './logger';

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

export class Counter {
  private readonly series = new Map<string, { values: string[]; n: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const values = this.labelNames.map((n) => labels[n] ?? '');
    const key = values.join('\u0000');
    const s = this.series.get(key);
    if (s) s.n += by;
    else this.series.set(key, { values, n: by });
  }

  /**
   * One label set bound once, for the launch path: an increment is then one addition, with no
   * label lookup or key building. The series appears at its first increment.
   */
  bind(labels: Labels): (by?: number) => void {
    const values = this.labelNames.map((n) => labels[n] ?? '');
    const key = values.join('\u0000');
    let s: { values: string[]; n: number } | undefined;
    return (by = 1) => {
      s ??= this.series.get(key);
      if (!s) {
        s = { values, n: 0 };
        this.series.set(key, s);
      }
      s.n += by;
    };
  }

  /** The current value for one label set (tests and the demo read it). */
  get(labels: Labels = {}): number {
    return this.series.get(this.labelNames.map((n) => labels[n] ?? '').join('\u0000'))?.n ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.values)} ${s.n}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private readonly series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    /** Upper bounds, ascending; +Inf is implied. */
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    this.record(this.seriesOf(this.labelNames.map((n) => labels[n] ?? '')), value);
  }

  /** `observe` for one label set bound once (see Counter.bind). */
  bind(labels: Labels): (value: number) => void {
    const values = this.labelNames.map((n) => labels[n] ?? '');
    let s: ReturnType<Histogram['seriesOf']> | undefined;
    return (value) => {
      s ??= this.seriesOf(values);
      this.record(s, value);
    };
  }

  private seriesOf(values: string[]) {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  private record(s: { counts: number[]; sum: number; count: number }, value: number): void {
    // Counts per bucket (not cumulative) here; render() accumulates, so observe stays O(buckets) at worst.
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', String(b)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** What the launch store reports of each charge group. */
export interface ChargeObserver {
  /** A group committed: its charges, its transaction's attempts (more than one: it lost a race), its time in seconds. */
  committed(charges: number, attempts: number, seconds: number): void;
  /** A group that failed otherwise, taken apart into one transaction per charge. */
  takenApart(): void;
}

/**
 * Relaunches answered from the warm cache of open sessions (services/launch.ts): with no read
 * (nothing they depend on was committed since their last check) or after one. Plain fields the
 * launch adds to, read at a scrape: the warm path pays an addition, not a call.
 */
export interface WarmCounts {
  cached: number;
  rechecked: number;
}

/**
 * The gateway's metrics; one registry per process. Each `--cluster` worker exposes its own, every
 * series labelled `worker` with its cluster id: a scrape of the shared port reaches one worker, and
 * unlabelled, the workers' counters would take turns in one series and read as resets.
 */
export class Metrics {
  readonly requests = new Counter('flexgate_http_requests_total', 'HTTP requests by method, route pattern and status.', [
    'method',
    'route',
    'status',
  ]);
  readonly latency = new Histogram(
    'flexgate_http_request_duration_seconds',
    'HTTP request latency by method and route pattern.',
    ['method', 'route'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  readonly launches = new Counter(
    'flexgate_launches_total',
    'Granted launches by source (subscription, trial, flex) and whether they opened a charged session.',
    ['source', 'charged'],
  );
  readonly tokensCharged = new Counter(
    'flexgate_tokens_charged_total',
    'Flex tokens charged, by launches and by heartbeats that opened the next session (R7).',
    ['via'],
  );
  readonly refusals = new Counter(
    'flexgate_launch_refusals_total',
    'Refused launches by problem code (no-access, insufficient-tokens, too-many-requests, ...).',
    ['code'],
  );
  readonly rateLimited = new Counter('flexgate_rate_limited_total', 'Requests refused with 429, by limit.', ['limit']);
  // Charge groups (launch/store.ts): how much grouping the load gives, and what waiting on a team's
  // ledger head costs when several instances charge one team.
  readonly chargeGroupLaunches = new Histogram(
    'flexgate_charge_group_launches',
    'Flex charges committed together in one transaction (a charge group), per group.',
    [],
    [1, 2, 4, 8, 16, 32, 64, 128],
  );
  readonly chargeGroupSeconds = new Histogram(
    'flexgate_charge_group_duration_seconds',
    "A charge group's time from its start to its commit, its wait for its teams' ledger heads and any restart included.",
    [],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly chargeGroupRestarts = new Counter(
    'flexgate_charge_group_restarts_total',
    'Charge groups started over (lost-race: another transaction changed their rows first) or taken apart into one charge each (taken-apart).',
    ['reason'],
  );
  // Every transaction `inTransaction` started over, whatever its service (db/tx.ts). A charge group's
  // restarts are counted here too: flexgate_charge_group_restarts_total is the launch path's own view.
  readonly transactionRetries = new Counter(
    'flexgate_transaction_retries_total',
    'Transactions started over after losing a race, by reason (deadlock, serialization, busy, unique, lost-race).',
    ['reason'],
  );
  // Whether relaunches take the fast path: a warm cache that stopped answering costs only speed.
  readonly warm: WarmCounts = { cached: 0, rechecked: 0 };
  private readonly started = Date.now();

  /** `worker`: the cluster worker's id, a label on every series; undefined in a process of its own. */
  constructor(private readonly worker?: string) {
    // Every reason shows from the start, at zero: an alert on the first deadlock needs the series before it.
    for (const reason of RETRY_REASONS) this.transactionRetries.inc({ reason }, 0);
  }

  /** The warm counts as a counter, made at a scrape so that it renders like the others. */
  private warmAnswers(): Counter {
    const c = new Counter(
      'flexgate_launch_warm_answers_total',
      'Relaunches of open Flex sessions answered from the warm cache: with no read (cached) or after one (rechecked).',
      ['how'],
    );
    c.inc({ how: 'cached' }, this.warm.cached);
    c.inc({ how: 'rechecked' }, this.warm.rechecked);
    return c;
  }

  /** What the launch store tells of its charge groups (launch/store.ts). */
  chargeObserver(): ChargeObserver {
    const launches = this.chargeGroupLaunches.bind({});
    const duration = this.chargeGroupSeconds.bind({});
    const lostRace = this.chargeGroupRestarts.bind({ reason: 'lost-race' });
    const takenApart = this.chargeGroupRestarts.bind({ reason: 'taken-apart' });
    return {
      committed: (charges, attempts, seconds) => {
        launches(charges);
        duration(seconds);
        if (attempts > 1) lostRace(attempts - 1);
      },
      takenApart: () => takenApart(),
    };
  }

  /** What `inTransaction` tells of the transactions it starts over (db/tx.ts `observeRetries`). */
  retryObserver(logger: Logger): RetryObserver {
    const count = new Map(RETRY_REASONS.map((reason) => [reason, this.transactionRetries.bind({ reason })]));
    return {
      retried: (reason: RetryReason, error: unknown) => {
        count.get(reason)?.();
        // A deadlock means two transactions take their locks in opposite orders, a bug to fix, and
        // each cost a wait of deadlock_timeout; the other reasons are the normal cost of concurrency.
        if (reason === 'deadlock') {
          const e = error as { message?: unknown; detail?: unknown } | null;
          logger.warn('transaction deadlocked, started over', { err: String(e?.message ?? error), detail: e?.detail });
        }
      },
    };
  }

  render(): string {
    const uptime = [
      '# HELP flexgate_uptime_seconds Seconds since this process started serving.',
      '# TYPE flexgate_uptime_seconds gauge',
      `flexgate_uptime_seconds ${Math.round((Date.now() - this.started) / 1000)}`,
      // Memory, under the names Prometheus' own Node clients use: RSS is what the host sees (and
      // what the RSS target bounds); the V8 heap's committed size against what is live shows GC slack.
      ...memoryGauges(),
    ].join('\n');
    const all = [
      this.requests,
      this.latency,
      this.launches,
      this.tokensCharged,
      this.refusals,
      this.rateLimited,
      this.chargeGroupLaunches,
      this.chargeGroupSeconds,
      this.chargeGroupRestarts,
      this.transactionRetries,
      this.warmAnswers(),
    ];
    const text = `${all.map((m) => m.render()).join('\n')}\n${uptime}\n`;
    return this.worker === undefined ? text : withLabel(text, `worker="${this.worker}"`);
  }
}

/** Every sample line of an exposition with one more label first; comments as they are. */
export function withLabel(text: string, label: string): string {
  return text.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{?)/gm, (_, name: string, brace: string) =>
    brace ? `${name}{${label},` : `${name}{${label}}`,
  );
}

function memoryGauges(): string[] {
  const m = process.memoryUsage();
  const gauge = (name: string, help: string, value: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`];
  return [
    ...gauge('process_resident_memory_bytes', 'Resident memory of this process, in bytes.', m.rss),
    ...gauge('nodejs_heap_size_total_bytes', 'V8 heap committed, in bytes.', m.heapTotal),
    ...gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', m.heapUsed),
    ...gauge(
      'nodejs_external_memory_bytes',
      'Memory of C++ objects bound to JavaScript (buffers, SQLite statements), in bytes.',
      m.external,
    ),
  ];
}
