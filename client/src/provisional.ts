import { join } from 'node:path';
import { type DiskStore, fileKey } from './cache';

/** A launch granted by the client alone while the gateway could not be reached. */
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
  enabled: boolean;
  /** How long a provisional launch runs (Autodesk: 4 hours). */
  durationMs: number;
  /** A successful sign-in must be this recent (Flex: 24 hours offline at most). */
  signInWindowMs: number;
  /** Only a product this user was granted on this machine before (a verified, maybe expired, entitlement). */
  requirePriorGrant: boolean;
}

export const DEFAULT_PROVISIONAL: ProvisionalPolicy = {
  enabled: true,
  durationMs: 4 * 3600_000,
  signInWindowMs: 24 * 3600_000,
  requirePriorGrant: true,
};

export type ProvisionalDecision =
  | { kind: 'grant'; record: ProvisionalRecord }
  | { kind: 'reuse'; record: ProvisionalRecord }
  | { kind: 'refuse'; reason: string };

export interface ProvisionalInput {
  now: Date;
  lastSignInAt: Date | null;
  priorGrant: boolean;
  /** The unreported provisional launch of this (user, product), if any: the outage is not over. */
  pending: ProvisionalRecord | null;
  autodeskId: string;
  product: string;
  team?: string;
  machine?: string;
  newId: () => string;
}

/** The whole abuse policy in one pure function (see client/NOTES.md, "Provisional launches"). */
export function decideProvisional(input: ProvisionalInput, policy: ProvisionalPolicy): ProvisionalDecision {
  const now = input.now.getTime();
  if (!policy.enabled) return { kind: 'refuse', reason: 'Provisional launches are turned off.' };
  if (input.pending) {
    // One per (user, product) per outage: until it is reported, relaunches get the same one.
    if (now < Date.parse(input.pending.expiresAt)) return { kind: 'reuse', record: input.pending };
    return {
      kind: 'refuse',
      reason: `The provisional launch granted during this outage ended at ${input.pending.expiresAt}; connect to the gateway to launch again.`,
    };
  }
  if (!input.lastSignInAt) return { kind: 'refuse', reason: 'No successful sign-in is recorded on this machine.' };
  const signedIn = input.lastSignInAt.getTime();
  if (signedIn > now) return { kind: 'refuse', reason: 'The last sign-in is later than the clock: check the date.' };
  if (now - signedIn > policy.signInWindowMs) {
    return { kind: 'refuse', reason: 'The last successful sign-in is more than 24 hours old.' };
  }
  if (policy.requirePriorGrant && !input.priorGrant) {
    return { kind: 'refuse', reason: `${input.product} was never granted to this user on this machine.` };
  }
  const expiresAt = Math.min(now + policy.durationMs, signedIn + policy.signInWindowMs);
  const record: ProvisionalRecord = {
    id: input.newId(),
    autodeskId: input.autodeskId,
    product: input.product,
    launchedAt: new Date(now).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
  };
  if (input.team !== undefined) record.team = input.team;
  if (input.machine !== undefined) record.machine = input.machine;
  return { kind: 'grant', record };
}

const DIR = 'provisional';

export function provisionalFile(autodeskId: string, product: string): string {
  return join(DIR, `${fileKey(autodeskId)}__${fileKey(product)}.json`);
}

/** One file per (user, product): a second provisional launch cannot be recorded beside the first. */
export interface ProvisionalStore {
  get(autodeskId: string, product: string): Promise<ProvisionalRecord | null>;
  put(record: ProvisionalRecord): Promise<void>;
  remove(record: ProvisionalRecord): Promise<void>;
  forUser(autodeskId: string): Promise<ProvisionalRecord[]>;
}

export function createProvisionalStore(store: DiskStore): ProvisionalStore {
  return {
    get: (autodeskId, product) => store.read<ProvisionalRecord>(provisionalFile(autodeskId, product)),
    put: (record) => store.write(provisionalFile(record.autodeskId, record.product), record),
    remove: (record) => store.remove(provisionalFile(record.autodeskId, record.product)),
    async forUser(autodeskId) {
      const prefix = `${fileKey(autodeskId)}__`;
      const out: ProvisionalRecord[] = [];
      for (const name of await store.list(DIR)) {
        if (!name.startsWith(prefix)) continue;
        const record = await store.read<ProvisionalRecord>(join(DIR, name));
        if (record && typeof record.id === 'string') out.push(record);
      }
      return out.sort((a, b) => a.launchedAt.localeCompare(b.launchedAt));
    },
  };
}
