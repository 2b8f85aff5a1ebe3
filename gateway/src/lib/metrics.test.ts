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
