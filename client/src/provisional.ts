import { join } from 'node:path';
import type { AllowanceClaims } from '@flexgate/shared';
import { type DiskStore, fileKey } from './cache';

/**
 * A launch granted by the client alone while the gateway could not be reached, in one slot of an
 * offline allowance the gateway signed: its id is `${allowance id}.${slot}`.
 */
export interface ProvisionalRecord {
  id: string;
  autodeskId: string;
  product: string;
  team?: string;
  machine?: string;
  launchedAt: string;
  expiresAt: string;
}

export interface ProvisionalPolicy {
  /** False: no provisional launch, and no allowance is asked for. */
  enabled: boolean;
  /** How long one provisional launch runs, never past its allowance's end (Autodesk: 4 hours). */
  durationMs: number;
}

export const DEFAULT_PROVISIONAL: ProvisionalPolicy = {
  enabled: true,
  durationMs: 4 * 3600_000,
};

export type ProvisionalDecision =
  | { kind: 'grant'; record: ProvisionalRecord }
  | { kind: 'reuse'; record: ProvisionalRecord }
  | { kind: 'refuse'; reason: string };

export interface ProvisionalInput {
  /** The client's clock floor: never earlier than an instant it has already seen. */
  now: Date;
  /** The latest offline allowance, verified; null when there is none that verifies. */
  allowance: AllowanceClaims | null;
  /** This user's provisional launches not yet reported. */
  records: readonly ProvisionalRecord[];
  autodeskId: string;
  product: string;
  team?: string;
  machine?: string;
  /** How far behind the gateway's clock this one may be when comparing with the allowance's `iat`. */
  skewMs: number;
}

/** The slot of a provisional id under allowance `aid`, or null for another allowance's id. */
export function slotOf(id: string, aid: string): number | null {
  if (!id.startsWith(`${aid}.`)) return null;
  const rest = id.slice(aid.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : null;
}

/**
 * The whole offline policy in one pure function (client/NOTES.md, "Provisional launches"): only
 * what the gateway's allowance grants (a product it lists, before its `exp` or, for a day already
 * paid for, before that day's end; in one of its slots).
 * Files the user deletes can only give back a slot id already used, which the gateway charges
 * once; nothing here outlives the allowance.
 */
export function decideProvisional(input: ProvisionalInput, policy: ProvisionalPolicy): ProvisionalDecision {
  const now = input.now.getTime();
  const refuse = (reason: string): ProvisionalDecision => ({ kind: 'refuse', reason });
  if (!policy.enabled) return refuse('Provisional launches are turned off.');
  const a = input.allowance;
  if (!a) return refuse('No offline allowance from the gateway on this machine: launch once while connected to get one.');
  const expMs = a.exp * 1000;
  if (now >= expMs) {
    return refuse(`The offline allowance ended at ${new Date(expMs).toISOString()}; connect to the gateway to launch again.`);
  }
  if (now < a.iat * 1000 - input.skewMs) return refuse('The clock is earlier than the offline allowance was issued: check the date.');
  const all = entriesOf(a, input.product);
  if (all.length === 0) return refuse(`${input.product} is not in the offline allowance the gateway issued.`);
  // A day already paid for is listed only until its session ends: past it, another day must be paid.
  const listed = all.filter((e) => now < e.endMs);
  if (listed.length === 0) {
    const ended = new Date(Math.max(...all.map((e) => e.endMs))).toISOString();
    return refuse(`The day of ${input.product} already paid for ended at ${ended}; connect to the gateway to launch it again.`);
  }
  // A subscription or trial (team null) covers any team; otherwise the team must be one listed.
  const entry =
    input.team === undefined
      ? (listed.find((p) => p.team === null) ?? (listed.length === 1 ? listed[0] : undefined))
      : (listed.find((p) => p.team === input.team) ?? listed.find((p) => p.team === null));
  if (!entry) {
    return refuse(
      input.team === undefined
        ? `${input.product} is allowed offline through several teams: name the team.`
        : `${input.product} is not allowed offline through team ${input.team}.`,
    );
  }
  const team = input.team ?? entry.team ?? undefined;

  // Relaunching while a provisional launch of this product runs gives the same one: no new slot.
  const running = input.records.find(
    (r) => r.product === input.product && (team === undefined || r.team === team) && now < Date.parse(r.expiresAt),
  );
  // The file is the user's to edit: it never runs past the allowance (or the day paid for) whatever it says.
  if (running)
    return {
      kind: 'reuse',
      record: { ...running, expiresAt: new Date(Math.min(Date.parse(running.expiresAt), entry.endMs)).toISOString() },
    };

  const used = new Set(input.records.map((r) => slotOf(r.id, a.aid)).filter((n) => n !== null));
  let slot = 0;
  while (used.has(slot)) slot++;
  if (slot >= a.launches) {
    return refuse(`All ${a.launches} provisional launches of the offline allowance are used; connect to the gateway to launch again.`);
  }
  // Never dated before the allowance (a clock a little behind the gateway's), never run past it.
  const launchedAt = Math.max(now, a.iat * 1000);
  const record: ProvisionalRecord = {
    id: `${a.aid}.${slot}`,
    autodeskId: input.autodeskId,
    product: input.product,
    launchedAt: new Date(launchedAt).toISOString(),
    expiresAt: new Date(Math.min(now + policy.durationMs, entry.endMs)).toISOString(),
  };
  if (team !== undefined) record.team = team;
  if (input.machine !== undefined) record.machine = input.machine;
  return { kind: 'grant', record };
}

/**
 * What the allowance lists for `product`, each with when it ends: the allowance's `exp`, or for a
 * day already paid for (`paid`) its session's end if that comes first.
 */
function entriesOf(a: AllowanceClaims, product: string): { team: string | null; endMs: number }[] {
  const expMs = a.exp * 1000;
  return [
    ...a.products.filter((p) => p.product === product).map((p) => ({ team: p.team, endMs: expMs })),
    ...(a.paid ?? []).filter((p) => p.product === product).map((p) => ({ team: p.team, endMs: Math.min(p.until * 1000, expMs) })),
  ];
}

const DIR = 'provisional';

export function provisionalFile(autodeskId: string, id: string): string {
  return join(DIR, `${fileKey(autodeskId)}__${fileKey(id)}.json`);
}

/** One file per provisional launch, named by its slot id: deleting one only frees that id again. */
export interface ProvisionalStore {
  put(record: ProvisionalRecord): Promise<void>;
  remove(record: ProvisionalRecord): Promise<void>;
  forUser(autodeskId: string): Promise<ProvisionalRecord[]>;
}

export function createProvisionalStore(store: DiskStore): ProvisionalStore {
  // Where each record was read from: one written by an older client is named by its product.
  const files = new WeakMap<ProvisionalRecord, string>();
  return {
    put: (record) => store.write(provisionalFile(record.autodeskId, record.id), record),
    remove: (record) => store.remove(files.get(record) ?? provisionalFile(record.autodeskId, record.id)),
    async forUser(autodeskId) {
      const prefix = `${fileKey(autodeskId)}__`;
      const out: ProvisionalRecord[] = [];
      for (const name of await store.list(DIR)) {
        if (!name.startsWith(prefix)) continue;
        const record = await store.read<ProvisionalRecord>(join(DIR, name));
        if (!record || typeof record.id !== 'string' || record.autodeskId !== autodeskId) continue;
        files.set(record, join(DIR, name));
        out.push(record);
      }
      return out.sort((a, b) => a.launchedAt.localeCompare(b.launchedAt));
    },
  };
}
