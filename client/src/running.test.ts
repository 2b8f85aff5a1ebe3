import { describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT_MS, nextHeartbeatMs } from './running';

describe('when a running product checks in next', () => {
  const now = new Date('2026-06-01T08:00:00Z');
  const inMinutes = (m: number) => new Date(now.getTime() + m * 60_000).toISOString();

  it('R7a: a 10-minute lease is renewed after half of what is left, so a second try fits before it runs out', () => {
    expect(nextHeartbeatMs(inMinutes(10), now, DEFAULT_HEARTBEAT_MS)).toBe(5 * 60_000);
    expect(nextHeartbeatMs(inMinutes(5), now, DEFAULT_HEARTBEAT_MS)).toBe(2.5 * 60_000);
  });

  it('R7: an entitlement to the end of the day is renewed every 5 minutes, or as often as asked', () => {
    expect(nextHeartbeatMs(inMinutes(24 * 60), now, DEFAULT_HEARTBEAT_MS)).toBe(DEFAULT_HEARTBEAT_MS);
    expect(nextHeartbeatMs(inMinutes(24 * 60), now, 200)).toBe(200);
  });

  it('never in a loop: at least a second apart, even when the entitlement is about to run out or has', () => {
    expect(nextHeartbeatMs(inMinutes(0.01), now, DEFAULT_HEARTBEAT_MS)).toBe(1000);
    expect(nextHeartbeatMs(inMinutes(-1), now, DEFAULT_HEARTBEAT_MS)).toBe(1000);
  });
});
