import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntitlementClaims, LaunchResponse } from '@flexgate/shared';
import type { Verifier } from './verify';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/**
 * JSON files under one directory, readable by their owner only: they hold an ID token and
 * bearer entitlements, so another local user must not be able to copy them.
 */
export interface DiskStore {
  readonly dir: string;
  read<T = unknown>(name: string): Promise<T | null>;
  write(name: string, value: unknown): Promise<void>;
  remove(name: string): Promise<void>;
  list(subdir: string): Promise<string[]>;
  /** Every JSON file under the directory, as names `read` takes. */
  walk(): Promise<string[]>;
}

export function createDiskStore(dir: string): DiskStore {
  const ready = new Map<string, Promise<void>>();

  function ensureDir(path: string): Promise<void> {
    let p = ready.get(path);
    if (!p) {
      p = (async () => {
        await mkdir(path, { recursive: true, mode: DIR_MODE });
        // mkdir leaves an existing directory's mode alone and the umask may have widened ours.
        if (((await stat(path)).mode & 0o777) !== DIR_MODE) await chmod(path, DIR_MODE);
      })();
      ready.set(path, p);
      p.catch(() => ready.delete(path));
    }
    return p;
  }

  return {
    dir,
    async read<T>(name: string): Promise<T | null> {
      try {
        return JSON.parse(await readFile(join(dir, name), 'utf8')) as T;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
        throw err;
      }
    },
    async write(name, value) {
      const path = join(dir, name);
      const parent = join(path, '..');
      await ensureDir(dir);
      if (parent !== dir) await ensureDir(parent);
      // Write then rename: a crash mid-write leaves the old file, never half a file.
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(tmp, 'wx', FILE_MODE);
      try {
        await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    },
    async remove(name) {
      await rm(join(dir, name), { force: true });
    },
    async list(subdir) {
      try {
        return (await readdir(join(dir, subdir))).filter((f) => f.endsWith('.json'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    async walk() {
      try {
        return (await readdir(dir, { recursive: true, encoding: 'utf8' })).filter((f) => f.endsWith('.json'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
  };
}

/** A file name part from any string: readable, never a path separator, `..` or `__` (the separator). */
export function fileKey(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9.@-]/g, (c) => `~${c.charCodeAt(0).toString(16)}`)
    .replace(/^\./, '~2e');
}

export interface CachedEntitlement {
  autodeskId: string;
  product: string;
  entitlement: string;
  /** Unsigned extras from the launch answer, for display only; nothing trusts them. */
  session: LaunchResponse['session'];
  team: string | null;
  savedAt: string;
  /**
   * The client's clock floor when the record was written, and again once the entitlement has
   * expired (`settle`): the record itself then proves that its time is over (floor.ts).
   */
  seenAt?: string;
  /** Set when the session was ended and refunded (R7a): the entitlement must not launch again. */
  endedAt?: string;
}

export interface VerifiedCacheEntry {
  claims: EntitlementClaims;
  record: CachedEntitlement;
}

export interface EntitlementCacheOptions {
  clockSkewSec: number;
  /** Never earlier than any instant the client has seen: winding the clock back gains nothing. */
  now: () => Date;
}

/** Verified entitlements per (Autodesk ID, product), usable offline until `exp` plus the skew. */
export interface EntitlementCache {
  get(autodeskId: string, product: string, team?: string): Promise<VerifiedCacheEntry | null>;
  put(autodeskId: string, product: string, record: CachedEntitlement): Promise<void>;
  remove(autodeskId: string, product: string): Promise<void>;
  list(): Promise<string[]>;
  /** Writes `floor` into every record whose entitlement expired before it and does not say so yet. */
  settle(floor: Date): Promise<void>;
}

export function entitlementFile(autodeskId: string, product: string): string {
  return join('entitlements', `${fileKey(autodeskId)}__${fileKey(product)}.json`);
}

export function createEntitlementCache(store: DiskStore, verifier: Verifier, options: EntitlementCacheOptions): EntitlementCache {
  // Writes to one record go one after the other, so a settle never puts back an entitlement a launch just replaced.
  const writing = new Map<string, Promise<void>>();
  function serially(name: string, write: () => Promise<void>): Promise<void> {
    const next = (writing.get(name) ?? Promise.resolve()).then(write);
    const settled = next.catch(() => {});
    writing.set(name, settled);
    void settled.then(() => {
      if (writing.get(name) === settled) writing.delete(name);
    });
    return next;
  }

  /** When the record stops being usable: `exp` plus the skew, read without verifying (a forgery gains nothing from it). */
  function usableUntil(entitlement: string): number {
    try {
      const exp = (JSON.parse(Buffer.from(entitlement.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }).exp;
      return typeof exp === 'number' ? (exp + options.clockSkewSec) * 1000 : Number.NaN;
    } catch {
      return Number.NaN;
    }
  }

  return {
    async get(autodeskId, product, team) {
      const record = await store.read<CachedEntitlement>(entitlementFile(autodeskId, product));
      if (!record || typeof record.entitlement !== 'string' || record.endedAt) return null;
      let claims: EntitlementClaims;
      try {
        // Re-verified on every read, against the cached keys only: an edited file, a key the
        // cache never saw, or an expired entitlement are all simply not there.
        claims = await verifier.verify(record.entitlement, { product, sub: autodeskId, allowRefresh: false });
      } catch {
        return null;
      }
      // jose already applied exp + skew; this repeats it against the monotonic `now`.
      if (options.now().getTime() >= (claims.exp + options.clockSkewSec) * 1000) return null;
      if (team !== undefined && claims.team !== team) return null;
      return { claims, record };
    },
    put(autodeskId, product, record) {
      const name = entitlementFile(autodeskId, product);
      return serially(name, () => store.write(name, { ...record, seenAt: options.now().toISOString() }));
    },
    remove: (autodeskId, product) => store.remove(entitlementFile(autodeskId, product)),
    list: () => store.list('entitlements'),
    async settle(floor) {
      for (const file of await store.list('entitlements')) {
        const name = join('entitlements', file);
        await serially(name, async () => {
          const record = await store.read<CachedEntitlement>(name);
          if (!record || typeof record.entitlement !== 'string') return;
          const until = usableUntil(record.entitlement);
          const seen = record.seenAt ? Date.parse(record.seenAt) : Number.NaN;
          if (!(until <= floor.getTime()) || seen >= until) return;
          await store.write(name, { ...record, seenAt: floor.toISOString() });
        });
      }
    },
  };
}
