import type { Kysely } from 'kysely';
import { findAnswer, storeAnswer } from '../db/repos/idempotency';
import type { DB } from '../db/schema';
import type { Tx } from '../db/tx';
import { DomainError } from '../domain/errors';
import { sha256 } from '../lib/secrets';

export interface IdempotencyRequest {
  /** Keys are per caller: two users may pick the same key without seeing each other's answers. */
  scope: string;
  key: string;
  /** The request the key was first used for; the same key with another request is a conflict. */
  request: unknown;
}

export const fingerprint = (request: unknown) => sha256(JSON.stringify(request));

/** A key sent again with another request: a conflict, told apart so the console can say it in its words. */
export class KeyReused extends DomainError {
  constructor(key: string) {
    super('conflict', `Idempotency-Key "${key}" was already used for a different request.`);
  }
}

export const keyReused = (key: string) => new KeyReused(key);

export async function replay<T>(db: Kysely<DB>, idem: IdempotencyRequest | undefined): Promise<T | undefined> {
  if (!idem) return undefined;
  const stored = await findAnswer(db, idem.scope, idem.key);
  if (!stored) return undefined;
  if (stored.fingerprint !== fingerprint(idem.request)) {
    throw keyReused(idem.key);
  }
  return JSON.parse(stored.body) as T;
}

export async function remember(trx: Tx, idem: IdempotencyRequest | undefined, answer: unknown, nowIso: string): Promise<void> {
  if (!idem) return;
  await storeAnswer(trx, {
    scope: idem.scope,
    key: idem.key,
    fingerprint: fingerprint(idem.request),
    status: 200,
    body: JSON.stringify(answer),
    createdAt: nowIso,
  });
}
