import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics';

const sample = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${series} `))
      ?.split(' ')[1],
  );

describe('charge group metrics', () => {
  it('counts launches per group, their time, and the groups that lost a race or were taken apart', () => {
    const metrics = new Metrics();
    const observe = metrics.chargeObserver();
    observe.committed(1, 1, 0.002);
    observe.committed(30, 3, 0.04); // started over twice before it committed
    observe.takenApart();
    const text = metrics.render();
    expect(sample(text, 'flexgate_charge_group_launches_count')).toBe(2);
    expect(sample(text, 'flexgate_charge_group_launches_sum')).toBe(31);
    expect(sample(text, 'flexgate_charge_group_launches_bucket{le="1"}')).toBe(1);
    expect(sample(text, 'flexgate_charge_group_launches_bucket{le="16"}')).toBe(1);
    expect(sample(text, 'flexgate_charge_group_launches_bucket{le="32"}')).toBe(2);
    expect(sample(text, 'flexgate_charge_group_duration_seconds_sum')).toBeCloseTo(0.042, 6);
    expect(sample(text, 'flexgate_charge_group_restarts_total{reason="lost-race"}')).toBe(2);
    expect(sample(text, 'flexgate_charge_group_restarts_total{reason="taken-apart"}')).toBe(1);
  });
});

describe('transaction retries', () => {
  it('counts each start-over by reason, every reason at zero from the start, and logs a deadlock alone', () => {
    const metrics = new Metrics();
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const quiet = () => {};
    const observer = metrics.retryObserver({
      debug: quiet,
      info: quiet,
      error: quiet,
      warn: (msg, fields) => warnings.push({ msg, fields }),
    });
    const zero = metrics.render();
    for (const reason of ['deadlock', 'serialization', 'busy', 'unique', 'lost-race']) {
      expect(sample(zero, `flexgate_transaction_retries_total{reason="${reason}"}`), reason).toBe(0);
    }
    observer.retried('unique', new Error('duplicate key'));
    observer.retried('lost-race', new Error('lot changed'));
    observer.retried('lost-race', new Error('lot changed'));
    observer.retried('deadlock', Object.assign(new Error('deadlock detected'), { code: '40P01', detail: 'Process 1 waits for ShareLock' }));
    const text = metrics.render();
    expect(sample(text, 'flexgate_transaction_retries_total{reason="unique"}')).toBe(1);
    expect(sample(text, 'flexgate_transaction_retries_total{reason="lost-race"}')).toBe(2);
    expect(sample(text, 'flexgate_transaction_retries_total{reason="deadlock"}')).toBe(1);
    expect(sample(text, 'flexgate_transaction_retries_total{reason="busy"}')).toBe(0);
    expect(warnings).toEqual([
      { msg: 'transaction deadlocked, started over', fields: { err: 'deadlock detected', detail: 'Process 1 waits for ShareLock' } },
    ]);
  });
});

describe('a cluster worker', () => {
  it("labels every sample with its worker id, so that the workers' counters are series of their own", () => {
    const lone = new Metrics();
    const worker = new Metrics('3');
    for (const m of [lone, worker]) {
      m.requests.inc({ method: 'GET', route: '/healthz', status: '200' });
      m.chargeObserver().committed(2, 1, 0.003);
    }
    const text = worker.render();
    const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples.length).toBeGreaterThan(20);
    expect(
      samples.every((l) => /^[a-z_:]+\{worker="3"[,}]/.test(l)),
      samples.find((l) => !l.includes('worker="3"')),
    ).toBe(true);
    expect(sample(text, 'flexgate_http_requests_total{worker="3",method="GET",route="/healthz",status="200"}')).toBe(1);
    expect(sample(text, 'flexgate_charge_group_launches_count{worker="3"}')).toBe(1);
    // The comments, and a process of its own, as before.
    expect(text.split('\n').filter((l) => l.startsWith('#'))).toEqual(
      lone
        .render()
        .split('\n')
        .filter((l) => l.startsWith('#')),
    );
    expect(lone.render()).not.toContain('worker=');
  });
});
