import { join } from 'node:path';
import { ALLOWANCE_AUDIENCE, ALLOWANCE_TYP, type AllowanceClaims, FREE_CLOSE_MS, SIGNING_ALG } from '@flexgate/shared';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';
import { type DiskStore, fileKey } from './cache';
import type { Jwks, KeyStore } from './verify';

/** Asked for again once older than this, at sign-in and at a launch the gateway answered. */
export const ALLOWANCE_REFRESH_MS = 3600_000;

const claimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.string().min(1),
  aid: z.string().regex(/^[A-Za-z0-9_-]+$/),
  iat: z.number().int(),
  exp: z.number().int(),
  products: z.array(z.object({ product: z.string().min(1), team: z.string().nullable() })),
  // Signed by a gateway that lists no paid days: none.
  paid: z.array(z.object({ product: z.string().min(1), team: z.string().min(1), until: z.number().int() })).default([]),
  launches: z.number().int().min(0),
});

/**
 * The keys an allowance is checked against: the client's trusted key set (verify.ts `KeyStore`), so
 * whatever decides which signing keys the client trusts decides for allowances too. `refresh`:
 * one fetch from the gateway for a key not known yet (only for an allowance just received).
 */
export type AllowanceKeys = (refresh: boolean) => Promise<Jwks | null>;

/** The client's key store as allowance keys: its trusted set, refreshed once for a key not known yet. */
export const allowanceKeysOf =
  (keys: Pick<KeyStore, 'current' | 'refresh'>): AllowanceKeys =>
  (refresh) =>
    refresh ? keys.refresh() : keys.current(false);

export class AllowanceRejected extends Error {
  override readonly name = 'AllowanceRejected';
}

/**
 * The claims of an allowance the gateway signed for `sub`, whatever its dates: the provisional
 * decision (provisional.ts) judges them against the client's clock floor. An edited file, another
 * user's allowance, an entitlement or an ID token passed off as one: all rejected.
 */
export async function verifyAllowance(
  jws: string,
  expect: { issuer: string; sub: string; keys: AllowanceKeys; allowRefresh: boolean },
): Promise<AllowanceClaims> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new AllowanceRejected('The offline allowance is not a compact JWS.');
  }
  // The header first, so that a forged one never costs a key fetch.
  if (header.alg !== SIGNING_ALG || header.typ !== ALLOWANCE_TYP || typeof header.kid !== 'string' || !header.kid) {
    throw new AllowanceRejected('The offline allowance has the wrong algorithm, type or key id.');
  }
  const kid = header.kid;
  let jwks = await expect.keys(false);
  if (!jwks?.keys.some((k) => k.kid === kid) && expect.allowRefresh) jwks = await expect.keys(true);
  if (!jwks?.keys.some((k) => k.kid === kid)) throw new AllowanceRejected(`The offline allowance is signed by an unknown key (${kid}).`);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jws, createLocalJWKSet(jwks as JSONWebKeySet), {
      algorithms: [SIGNING_ALG],
      typ: ALLOWANCE_TYP,
      issuer: expect.issuer,
      audience: ALLOWANCE_AUDIENCE,
      subject: expect.sub.toLowerCase(),
      // The dates are the decision's, against the clock floor; here only the signature and claims.
      currentDate: new Date(0),
    }));
  } catch (err) {
    throw new AllowanceRejected(`The offline allowance does not verify: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) throw new AllowanceRejected('The offline allowance lacks required claims.');
  return parsed.data;
}

/**
 * Whether the allowance lists `product` at `now`: for the whole allowance, or for a day already
 * paid for (`paid`) that has not ended yet.
 */
export function allowanceLists(claims: AllowanceClaims, product: string, now: Date): boolean {
  return (
    claims.products.some((p) => p.product === product) ||
    (claims.paid ?? []).some((p) => p.product === product && now.getTime() < p.until * 1000)
  );
}

/** Whether to ask the gateway for a new allowance: none, an hour old, or not listing what was just granted. */
export function allowanceStale(claims: AllowanceClaims | null, now: Date, product?: string): boolean {
  if (!claims) return true;
  if (now.getTime() - claims.iat * 1000 >= ALLOWANCE_REFRESH_MS) return true;
  return product !== undefined && !allowanceLists(claims, product, now);
}

/**
 * Whether a session's day, now settled, calls for a new allowance: the kept one does not list
 * `product` and was signed no later than the session's free window ended, when the gateway lists
 * no day as paid (it may still be refunded). Judged on the allowance's signed `iat`, so one signed
 * after the window, the one this asks for, answers no: one request per session, not per heartbeat.
 */
export function allowanceBeforeSettled(claims: AllowanceClaims | null, product: string, sessionStartsAt: string, now: Date): boolean {
  const windowEnd = Date.parse(sessionStartsAt) + FREE_CLOSE_MS;
  if (!claims || !Number.isFinite(windowEnd)) return false;
  return claims.iat * 1000 <= windowEnd && !allowanceLists(claims, product, now);
}

interface AllowanceFile {
  gatewayUrl: string;
  autodeskId: string;
  allowance: string;
  savedAt: string;
}

/** One allowance per user, the latest: verified again on every read, so the file itself proves nothing. */
export interface AllowanceStore {
  get(autodeskId: string): Promise<{ claims: AllowanceClaims; jws: string } | null>;
  put(autodeskId: string, jws: string, savedAt: Date): Promise<void>;
  remove(autodeskId: string): Promise<void>;
}

export function allowanceFile(autodeskId: string): string {
  return join('allowance', `${fileKey(autodeskId)}.json`);
}

export function createAllowanceStore(store: DiskStore, o: { gatewayUrl: string; issuer: string; keys: AllowanceKeys }): AllowanceStore {
  return {
    async get(autodeskId) {
      const file = await store.read<AllowanceFile>(allowanceFile(autodeskId));
      if (!file || file.gatewayUrl !== o.gatewayUrl || typeof file.allowance !== 'string') return null;
      try {
        const claims = await verifyAllowance(file.allowance, { issuer: o.issuer, sub: autodeskId, keys: o.keys, allowRefresh: false });
        return { claims, jws: file.allowance };
      } catch {
        return null;
      }
    },
    put: (autodeskId, jws, savedAt) =>
      store.write(allowanceFile(autodeskId), {
        gatewayUrl: o.gatewayUrl,
        autodeskId,
        allowance: jws,
        savedAt: savedAt.toISOString(),
      } satisfies AllowanceFile),
    remove: (autodeskId) => store.remove(allowanceFile(autodeskId)),
  };
}
