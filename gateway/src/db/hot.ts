import { closeSync, openSync, readSync } from 'node:fs';
import type { Product } from '@flexgate/shared';
import SQLite from 'better-sqlite3';
import { memberStatus } from '../domain/access';
import type { LicenseFact, MembershipFact } from '../domain/precedence';
import type { SessionRow } from './schema';

/** Everything a launch reads before deciding, and the open session with its team's balance. */
export interface LaunchFacts {
  product: Product | null;
  licenses: LicenseFact[];
  memberships: MembershipFact[];
  open: SessionRow | undefined;
  /** Balance of the open session's team (what a warm launch answers), when one is open. */
  openBalance: number | null;
  /** `access_epoch.v` in the same snapshot: the facts above hold while it is unchanged (migration 006). */
  epoch: number;
}

/** What a cached warm launch must read again each time: whether it still holds, and the balance. */
export interface Recheck {
  epoch: number;
  /** The session is still open (not ended or voided; its end time is checked by the caller). */
  open: boolean;
  balance: number;
  /** When the next of the team's lots expires (the balance drops then without any write), if any. */
  nextExpiry: string | null;
}

export interface HotReads {
  launchFacts(autodeskId: string, product: string, team: string | undefined, nowIso: string): LaunchFacts;
  /** The stored answer of an Idempotency-Key, if any (clients send one with every launch). */
  storedAnswer(scope: string, key: string): { fingerprint: string; body: string } | undefined;
  recheck(sessionId: string, teamId: string, nowIso: string): Recheck;
  /**
   * A number that changes whenever anything was committed to the file, by any connection in any
   * process, since the previous call: unchanged means nothing was (see `commitCounter`).
   */
  dataVersion(): number;
  close(): void;
}

interface MemberRow {
  team_id: string;
  team_name: string;
  guest: number;
  all_products: number;
  status: 'active' | 'invited';
}

/**
 * The launch's reads on SQLite, as statements prepared once (PERF-NOTES: Kysely prepares every
 * query again, ~3x the cost) and run in one read transaction (one snapshot, one set of lock
 * syscalls). It uses its OWN read-only connection: the Kysely connection may be inside another
 * request's write transaction, whose uncommitted rows a launch must never see. WAL lets this
 * reader run alongside the writer. Nothing is cached: every launch reads committed rows, so an
 * admin change is seen by the next launch on every process sharing the file.
 */
export function sqliteHotReads(path: string): HotReads {
  const db = new SQLite(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  // Pages read through a memory map instead of one read() syscall each; syscalls are what cost
  // most on these machines (PERF-NOTES), and this connection only ever reads.
  db.pragma('mmap_size = 268435456');
  const read = launchFactsReader(db);
  // One statement, so one implicit read transaction: the cheapest consistent read SQLite has.
  const recheck = db.prepare<[string, string, string], { epoch: number; open: number; balance: number | null; next_expiry: string | null }>(
    `select (select v from access_epoch where id = 1) as epoch,
            exists (select 1 from usage_sessions where id = ? and ended_at is null) as open,
            b.balance, b.next_expiry
       from (select sum(remaining) as balance, min(expires_at) as next_expiry from lots where team_id = ? and expires_at > ?) b`,
  );
  const dataVersion = db.prepare<[], { data_version: number }>('pragma data_version');
  const commits = commitCounter(path, () => dataVersion.get()?.data_version ?? -1);
  const stored = db.prepare<[string, string], { fingerprint: string; body: string }>(
    'select fingerprint, body from idempotency_keys where scope = ? and key = ?',
  );

  return {
    launchFacts: read,
    storedAnswer: (scope, key) => stored.get(scope, key),
    dataVersion: commits.read,
    recheck: (sessionId, teamId, nowIso) => {
      const r = recheck.get(sessionId, teamId, nowIso);
      return { epoch: r?.epoch ?? -1, open: r?.open === 1, balance: r?.balance ?? 0, nextExpiry: r?.next_expiry ?? null };
    },
    close: () => {
      commits.close();
      db.close();
    },
  };
}

type FactsRead = (autodeskId: string, productKey: string, team: string | undefined, nowIso: string) => LaunchFacts;

/** The launch's reads, prepared once on the read connection, in one read transaction (one snapshot). */
export function launchFactsReader(db: SQLite.Database): FactsRead {
  const read = db.transaction(launchFactsStatements(db));
  return (autodeskId, productKey, team, nowIso) => read.deferred(autodeskId, productKey, team, nowIso);
}

/**
 * The same reads as plain statements, for a caller already inside a transaction: the writer in a
 * group of charges (db/charge-group.ts), whose pages stay cached across its own commits.
 */
export function launchFactsStatements(db: SQLite.Database): FactsRead {
  const product = db.prepare<[string], { key: string; name: string; daily_rate: number; added_at: string }>(
    'select key, name, daily_rate, added_at from products where key = ?',
  );
  const licenses = db.prepare<
    [string, string, string],
    { id: string; kind: 'subscription' | 'trial'; autodesk_id: string; product_key: string; starts_at: string; ends_at: string }
  >(
    'select id, kind, autodesk_id, product_key, starts_at, ends_at from licenses where autodesk_id = ? and product_key = ? and ends_at > ? order by ends_at desc',
  );
  const memberSelect =
    'select m.team_id, t.name as team_name, m.guest, m.all_products, m.status from members m join teams t on t.id = m.team_id where m.autodesk_id = ?';
  const members = db.prepare<[string], MemberRow>(`${memberSelect} order by m.team_id`);
  const memberOfTeam = db.prepare<[string, string], MemberRow>(`${memberSelect} and m.team_id = ?`);
  const memberProducts = db.prepare<[string, string], { product_key: string }>(
    'select product_key from member_products where team_id = ? and autodesk_id = ?',
  );
  const defaults = db.prepare<[string], { product_key: string }>('select product_key from team_defaults where team_id = ?');
  const invitation = db.prepare<[string, string], { expires_at: string }>(
    'select expires_at from invitations where team_id = ? and autodesk_id = ? and accepted_at is null and superseded_at is null order by expires_at desc limit 1',
  );
  const openSession = db.prepare<[string, string, string], SessionRow>(
    'select * from usage_sessions where autodesk_id = ? and product_key = ? and ended_at is null and ends_at > ? order by ends_at desc limit 1',
  );
  const balance = db.prepare<[string, string], { balance: number | null }>(
    'select sum(remaining) as balance from lots where team_id = ? and expires_at > ?',
  );

  const epoch = db.prepare<[], { v: number }>('select v from access_epoch where id = 1');
  return (autodeskId, productKey, team, nowIso) => {
    const v = epoch.get()?.v ?? 0;
    const p = product.get(productKey);
    const rows = team === undefined ? members.all(autodeskId) : memberOfTeam.all(autodeskId, team);
    const memberships: MembershipFact[] = rows.map((r) => {
      const inv = r.status === 'invited' ? invitation.get(r.team_id, autodeskId) : undefined;
      // An all-products member's assignments and the team's defaults decide nothing (R12,
      // `hasFlexAccess`): not read, two statements fewer on every launch of such a member.
      const all = r.all_products === 1;
      return {
        teamId: r.team_id,
        teamName: r.team_name,
        guest: r.guest === 1,
        allProducts: all,
        status: memberStatus(r.status, inv?.expires_at, new Date(nowIso)),
        products: all ? [] : memberProducts.all(r.team_id, autodeskId).map((x) => x.product_key),
        defaults: all ? [] : defaults.all(r.team_id).map((x) => x.product_key),
      };
    });
    const open = openSession.get(autodeskId, productKey, nowIso);
    return {
      product: p ? { key: p.key, name: p.name, dailyRate: p.daily_rate, addedAt: p.added_at } : null,
      licenses: licenses.all(autodeskId, productKey, nowIso).map((l) => ({
        id: l.id,
        kind: l.kind,
        autodeskId: l.autodesk_id,
        product: l.product_key,
        startsAt: l.starts_at,
        endsAt: l.ends_at,
      })),
      memberships,
      open,
      openBalance: open ? (balance.get(open.team_id, nowIso)?.balance ?? 0) : null,
      epoch: v,
    };
  };
}

/**
 * "Has anything been committed since I last asked?", for the warm-launch cache, as cheaply as the
 * file allows. In WAL mode every commit rewrites the wal-index header: the first 96 bytes of the
 * `-shm` file (two copies of a 48-byte header: change counter, last frame, salts, checksums; see
 * sqlite.org/walformat.html). Reading them is one pread, against the two file-lock syscalls and the
 * read transaction of `PRAGMA data_version` (about 6 µs of a launch's 60 under load, measured).
 * A torn read (the header half rewritten) only looks like a change; a commit whose header is not
 * yet written is not yet visible to any reader either. Without a `-shm` file (not WAL), the pragma.
 */
function commitCounter(path: string, pragma: () => number): { read: () => number; close: () => void } {
  let fd: number;
  try {
    fd = openSync(`${path}-shm`, 'r');
  } catch {
    return { read: pragma, close: () => {} };
  }
  const last = Buffer.alloc(96);
  const now = Buffer.alloc(96);
  let counter = 0;
  const read = () => {
    // A short read (a header not written yet) counts as a change: the caller rechecks.
    if (readSync(fd, now, 0, 96, 0) !== 96 || !now.equals(last)) {
      now.copy(last);
      counter += 1;
    }
    return counter;
  };
  read();
  return { read, close: () => closeSync(fd) };
}
