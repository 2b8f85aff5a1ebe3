import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskStore, createEntitlementCache, type DiskStore, type EntitlementCache, entitlementFile, fileKey } from './cache';
import { claimsFor, makeKey, makeRoot, sign, signKeySet, type TestKey } from './testing/keys';
import { createKeyStore, createVerifier } from './verify';

let dir: string;
let store: DiskStore;
let key: TestKey;
let clock: Date;
let fetches: number;
let cache: EntitlementCache;
const t0 = new Date('2026-03-15T10:00:00Z');

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'flexgate-cache-')), 'cache');
  store = createDiskStore(dir);
  key = await makeKey('k1');
  clock = t0;
  fetches = 0;
  const root = await makeRoot();
  await store.write('keyset.json', { keySet: await signKeySet(root, { ver: 1, keys: [key] }) });
  const keys = createKeyStore({
    trust: root.jwk,
    issuer: 'flexgate',
    fetchKeySet: async () => {
      fetches++;
      throw new Error('offline');
    },
    fetchRoot: async () => root.jwk,
    load: () => store.read('keyset.json'),
    save: (record) => store.write('keyset.json', record),
  });
  const now = () => clock;
  cache = createEntitlementCache(store, createVerifier(keys, { issuer: 'flexgate', clockSkewSec: 30, now }), {
    clockSkewSec: 30,
    now,
  });
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

async function putFresh(ttlSec = 3600, overrides = {}) {
  const entitlement = await sign(key, claimsFor({ now: t0, ttlSec, ...overrides }));
  await cache.put('ada@example.com', 'autocad', {
    autodeskId: 'ada@example.com',
    product: 'autocad',
    entitlement,
    session: { id: 'sess-1', startsAt: t0.toISOString(), endsAt: '2026-03-16T10:00:00.000Z' },
    team: 'team-1',
    savedAt: t0.toISOString(),
  });
  return entitlement;
}

describe('disk store', () => {
  it('writes files 0600 in a directory 0700, even one that existed wider', async () => {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    const fresh = createDiskStore(dir);
    await fresh.write('entitlements/x.json', { a: 1 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'entitlements'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'entitlements/x.json'))).mode & 0o777).toBe(0o600);
    expect(await fresh.read('entitlements/x.json')).toEqual({ a: 1 });
    expect(await fresh.read('missing.json')).toBeNull();
  });

  it('keeps file names inside the directory whatever the ID', () => {
    for (const id of ['../../etc/passwd', 'a/b@c.d', '..', 'x__y@z.com']) {
      const k = fileKey(id);
      expect(k).not.toMatch(/[/\\]/);
      expect(k.startsWith('.')).toBe(false);
      expect(k).not.toContain('__');
    }
    expect(entitlementFile('Ada@Example.com', 'autocad')).toBe(join('entitlements', 'ada@example.com__autocad.json'));
  });
});

describe('entitlement cache', () => {
  it('serves a verified entitlement offline until exp, within the skew, never after', async () => {
    await putFresh(3600);
    expect((await cache.get('ada@example.com', 'autocad'))?.claims.sid).toBe('sess-1');
    clock = new Date(t0.getTime() + 3600_000 + 29_000);
    expect(await cache.get('ada@example.com', 'autocad')).not.toBeNull();
    clock = new Date(t0.getTime() + 3600_000 + 30_000);
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
    expect(fetches).toBe(0);
  });

  it('is per user and product, and per team when one is asked', async () => {
    await putFresh();
    expect(await cache.get('bob@example.com', 'autocad')).toBeNull();
    expect(await cache.get('ada@example.com', 'revit')).toBeNull();
    expect(await cache.get('ada@example.com', 'autocad', 'team-1')).not.toBeNull();
    expect(await cache.get('ada@example.com', 'autocad', 'team-2')).toBeNull();
  });

  it('rejects a tampered cache file: the JWS is verified again on every read', async () => {
    const jws = await putFresh();
    const path = join(dir, entitlementFile('ada@example.com', 'autocad'));
    const [h, p, s] = jws.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.exp += 86_400 * 365;
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const record = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...record, entitlement: forged }));
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
    // Garbage is no entitlement either.
    await writeFile(path, '{not json');
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
  });

  it('refuses an entitlement another user could copy in: the subject must match', async () => {
    const entitlement = await sign(key, claimsFor({ now: t0, sub: 'eve@example.com' }));
    await cache.put('ada@example.com', 'autocad', {
      autodeskId: 'ada@example.com',
      product: 'autocad',
      entitlement,
      session: null,
      team: null,
      savedAt: t0.toISOString(),
    });
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
  });

  it('does not fetch keys while reading: an unknown kid in the cache is refused offline', async () => {
    const other = await makeKey('k2');
    await cache.put('ada@example.com', 'autocad', {
      autodeskId: 'ada@example.com',
      product: 'autocad',
      entitlement: await sign(other, claimsFor({ now: t0 })),
      session: null,
      team: null,
      savedAt: t0.toISOString(),
    });
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
    expect(fetches).toBe(0);
  });

  it('serves neither an expired nor an ended entitlement', async () => {
    const jws = await putFresh(60);
    clock = new Date(t0.getTime() + 86_400_000);
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
    clock = t0;
    expect(await cache.get('ada@example.com', 'autocad')).not.toBeNull();
    await cache.put('ada@example.com', 'autocad', {
      autodeskId: 'ada@example.com',
      product: 'autocad',
      entitlement: jws,
      session: null,
      team: null,
      savedAt: t0.toISOString(),
      endedAt: t0.toISOString(),
    });
    expect(await cache.get('ada@example.com', 'autocad')).toBeNull();
  });

  it('records the floor in a record once its entitlement has expired, and only then', async () => {
    await putFresh(3600);
    const path = join(dir, entitlementFile('ada@example.com', 'autocad'));
    const seenAt = () => JSON.parse(readFileSync(path, 'utf8')).seenAt;
    expect(seenAt()).toBe(t0.toISOString());
    // Still usable (exp + skew not reached): nothing to record.
    await cache.settle(new Date(t0.getTime() + 3600_000 + 29_000));
    expect(seenAt()).toBe(t0.toISOString());
    const past = new Date(t0.getTime() + 2 * 3600_000);
    await cache.settle(past);
    expect(seenAt()).toBe(past.toISOString());
    // Once is enough: a later floor is not written again.
    await cache.settle(new Date(t0.getTime() + 3 * 3600_000));
    expect(seenAt()).toBe(past.toISOString());
  });

  it('settles past a damaged record: the others still get the floor', async () => {
    await putFresh(3600);
    const path = join(dir, entitlementFile('ada@example.com', 'autocad'));
    await writeFile(join(dir, entitlementFile('ada@example.com', 'revit')), '{"entitlement": "e30.');
    await writeFile(join(dir, entitlementFile('ada@example.com', 'maya')), 'null');
    const past = new Date(t0.getTime() + 2 * 3600_000);
    await cache.settle(past);
    expect(JSON.parse(readFileSync(path, 'utf8')).seenAt).toBe(past.toISOString());
  });
});
