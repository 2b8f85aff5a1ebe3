import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskStore, type DiskStore } from './cache';
import { createClockFloor, FLOOR_PERSIST_MS } from './floor';

const t0 = new Date('2026-03-15T10:00:00Z');
const HOUR = 3600_000;
let dir: string;
let store: DiskStore;
let settled: Date[];

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'flexgate-floor-')), 'cache');
  store = createDiskStore(dir);
  settled = [];
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

/** No time passes unless a test says so: the wall clock alone moves. */
const still = () => 0;
const floorAt = (clock: Date) =>
  createClockFloor({ clock: () => clock, monotonic: still, store, settle: async (t) => void settled.push(t) });
const jws = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('clock floor', () => {
  it('never goes back: a clock wound back reads the latest instant seen', async () => {
    const floor = floorAt(new Date(t0.getTime() + 5 * HOUR));
    expect((await floor.tick()).toISOString()).toBe(new Date(t0.getTime() + 5 * HOUR).toISOString());
    expect(settled).toHaveLength(1);
    const rewound = floorAt(t0);
    expect((await rewound.tick()).getTime()).toBe(t0.getTime() + 5 * HOUR);
  });

  it('survives deleting state.json: every artefact kept carries it, and signed ones their iat', async () => {
    const late = new Date(t0.getTime() + 30 * HOUR);
    await store.write('entitlements/ada__maya.json', { entitlement: jws({ iat: t0.getTime() / 1000 }), seenAt: late.toISOString() });
    expect((await floorAt(t0).tick()).getTime()).toBe(late.getTime());

    await store.remove('entitlements/ada__maya.json');
    const issued = t0.getTime() + 40 * HOUR;
    await store.write('keyset.json', { keySet: jws({ iat: issued / 1000, ver: 3 }) });
    expect((await floorAt(t0).tick()).getTime()).toBe(issued);
  });

  it('reads past a damaged or emptied file: the instants of the others still hold', async () => {
    const late = new Date(t0.getTime() + 30 * HOUR);
    await store.write('entitlements/ada__maya.json', { entitlement: jws({ iat: t0.getTime() / 1000 }), seenAt: late.toISOString() });
    await mkdir(join(dir, 'entitlements'), { recursive: true });
    await writeFile(join(dir, 'entitlements', 'ada__revit.json'), '{"entitlem');
    await writeFile(join(dir, 'state.json'), 'null');
    expect((await floorAt(t0).tick()).getTime()).toBe(late.getTime());
  });

  it('persists at most once a minute, and tells the artefacts each time', async () => {
    let clock = t0;
    const floor = createClockFloor({ clock: () => clock, monotonic: still, store, settle: async (t) => void settled.push(t) });
    await floor.tick();
    clock = new Date(t0.getTime() + FLOOR_PERSIST_MS - 1);
    await floor.tick();
    expect(settled).toEqual([t0]);
    clock = new Date(t0.getTime() + FLOOR_PERSIST_MS);
    await floor.tick();
    expect(settled).toEqual([t0, clock]);
    expect(await store.read('state.json')).toEqual({ lastSeenAt: clock.toISOString() });
  });

  it('a wall clock held behind the floor does not stop time: the floor moves on as time passes', async () => {
    let elapsed = 0;
    const floor = createClockFloor({ clock: () => t0, monotonic: () => elapsed, store, settle: async (t) => void settled.push(t) });
    floor.observe(t0.getTime() + HOUR);
    elapsed = 11 * 60_000;
    expect(floor.now().getTime()).toBe(t0.getTime() + HOUR + 11 * 60_000);
    // A tick keeps it: the time that passed is not given back.
    expect((await floor.tick()).getTime()).toBe(t0.getTime() + HOUR + 11 * 60_000);
  });

  it('moves up to an instant a signed artefact proves', async () => {
    const floor = floorAt(t0);
    floor.observe(t0.getTime() + HOUR);
    expect(floor.now().getTime()).toBe(t0.getTime() + HOUR);
  });
});
