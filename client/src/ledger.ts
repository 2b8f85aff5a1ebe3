import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CHECKPOINT_TYP,
  type ChainBreak,
  type ChainSummary,
  KEY_SET_PATH,
  type LedgerCheckpointClaims,
  type LedgerEntry,
  ROOT_KEY_PATH,
  SIGNING_ALG,
  verifyChain,
} from '@flexgate/shared';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { z } from 'zod';
import { createHttp, GatewayUnreachableError, type Http } from './http';
import { FlexgateError } from './types';
import { parseJwks, parseTrust, type RootJwk, rootMatching, TrustError, type TrustRoot, verifyKeySet } from './verify';

/**
 * `flexgate ledger verify`: a team's ledger checked offline against a signed checkpoint, with the
 * rule of docs/ledger.md (shared/ledger.ts): nothing the gateway says is taken on its word.
 */

export interface LedgerVerifyOptions {
  gatewayUrl: string;
  team: string;
  adminKey: string;
  /** The root key to check the signing key against (--trust, or the one pinned); null: the JWKS alone. */
  trust: TrustRoot | null;
  /** The `iss` the checkpoint and the key set must carry (the gateway's default: "flexgate"). */
  issuer?: string;
  /** Checkpoints kept from earlier runs (`--keep`): the history they signed must still be the ledger's. */
  kept?: readonly KeptCheckpoint[];
  http?: Http;
}

/** A checkpoint verified earlier, kept with the public key that verified it (a key may leave the JWKS later). */
export interface KeptCheckpoint {
  jws: string;
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string };
}

export type LedgerVerdict =
  | {
      ok: true;
      checkpoint: LedgerCheckpointClaims;
      kid: string;
      trustedBy: 'root' | 'jwks';
      verified: ChainSummary;
      later: number;
      /** The checkpoint just verified, to keep (`--keep`). */
      keep: KeptCheckpoint;
      /** How many kept checkpoints the ledger still reaches. */
      keptChecked: number;
    }
  | {
      ok: false;
      /** What failed: the checkpoint's signature, the chain itself, the chain against the checkpoint, or a kept checkpoint. */
      problem: 'signature' | 'chain' | 'checkpoint' | 'history';
      message: string;
      chainBreak?: ChainBreak;
      checkpoint?: LedgerCheckpointClaims;
    };

const claimsSchema = z.object({
  iss: z.string(),
  iat: z.number(),
  team: z.string(),
  lastId: z.number().int().nonnegative(),
  lastHash: z.string().regex(/^[0-9a-f]{64}$/),
  count: z.number().int().nonnegative(),
  balance: z.number().int(),
  at: z.string(),
});

const PAGE = 10_000;

export async function verifyLedger(o: LedgerVerifyOptions): Promise<LedgerVerdict> {
  const issuer = o.issuer ?? 'flexgate';
  const http = o.http ?? createHttp(o.gatewayUrl.replace(/\/+$/, ''));
  try {
    const get = async (path: string, token?: string) => {
      const res = await http.request({ method: 'GET', path, ...(token !== undefined && { token }) });
      if (res.status === 200) return res.body;
      const detail = (res.body as { detail?: unknown } | null)?.detail;
      const code =
        res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : res.status === 404 ? 'not-found' : 'internal-error';
      throw new FlexgateError(code, `GET ${path} answered ${res.status}${typeof detail === 'string' ? `: ${detail}` : ''}`);
    };
    const team = encodeURIComponent(o.team);
    // The checkpoint first: every entry it counts is in the ledger read after it.
    const jws = await get(`/v1/teams/${team}/ledger/checkpoint`, o.adminKey);
    if (typeof jws !== 'string') return { ok: false, problem: 'signature', message: 'The checkpoint is not a compact JWS.' };

    const signed = await checkSignature(jws, issuer, o, get);
    if (!signed.ok) return { ok: false, problem: 'signature', message: signed.message };
    const checkpoint = signed.claims;
    if (checkpoint.team !== o.team) {
      return { ok: false, problem: 'signature', message: `The checkpoint is about team ${checkpoint.team}, not ${o.team}.`, checkpoint };
    }

    const entries: LedgerEntry[] = [];
    for (let after = 0; ; ) {
      const page = (await get(`/v1/teams/${team}/ledger?after=${after}&limit=${PAGE}`, o.adminKey)) as LedgerEntry[];
      entries.push(...page);
      const last = page.at(-1);
      if (page.length < PAGE || !last) break;
      after = last.id;
    }
    const chain = verifyChain(entries);
    if (!chain.ok) {
      const b = chain.break;
      return {
        ok: false,
        problem: 'chain',
        message:
          `The chain breaks at entry ${b.id} (position ${b.position} of ${entries.length}): ` +
          (b.field === 'hash'
            ? `its content hashes to ${b.expected}, but it says ${b.found}: the entry was altered.`
            : `it chains from ${b.found}, but the entry before it hashes to ${b.expected}: an entry before it was removed, added or reordered.`),
        chainBreak: b,
        checkpoint,
      };
    }
    // The chain up to the checkpoint's last entry must be exactly what the checkpoint signed.
    const upTo = verifyChain(entries.filter((e) => e.id <= checkpoint.lastId));
    const s = upTo.summary;
    const mismatch = [
      s.count !== checkpoint.count && `${s.count} entries up to id ${checkpoint.lastId}, the checkpoint counts ${checkpoint.count}`,
      s.lastId !== checkpoint.lastId && `the last entry up to the checkpoint is ${s.lastId}, the checkpoint names ${checkpoint.lastId}`,
      s.lastHash !== checkpoint.lastHash && `the chain ends in ${s.lastHash}, the checkpoint signed ${checkpoint.lastHash}`,
      s.total !== checkpoint.balance && `the entries add up to ${s.total} tokens, the checkpoint's balance is ${checkpoint.balance}`,
    ].filter((m): m is string => typeof m === 'string');
    if (mismatch.length > 0) {
      return {
        ok: false,
        problem: 'checkpoint',
        message: `The ledger does not match the signed checkpoint: ${mismatch.join('; ')}.`,
        checkpoint,
      };
    }
    // Every checkpoint kept from an earlier run: the ledger still holds the entry it ended on, at
    // its position, with its hash. A history rewritten since (every later hash recomputed) cannot.
    for (const k of o.kept ?? []) {
      const old = await keptClaims(k, issuer);
      if (!old || old.team !== o.team)
        return { ok: false, problem: 'history', message: `A kept checkpoint of ${o.team} does not verify.`, checkpoint };
      if (old.count === 0) continue;
      const at = entries[old.count - 1];
      if (!at || at.id !== old.lastId || at.hash !== old.lastHash) {
        return {
          ok: false,
          problem: 'history',
          message:
            `The history changed since the checkpoint of ${old.at}: it signed entry ${old.lastId} at position ${old.count} ` +
            `with hash ${old.lastHash}, the ledger now has ${at ? `entry ${at.id} there with hash ${at.hash}` : `${entries.length} entries`}.`,
          checkpoint,
        };
      }
    }
    return {
      ok: true,
      checkpoint,
      kid: signed.kid,
      trustedBy: signed.trustedBy,
      verified: s,
      later: entries.length - s.count,
      keep: { jws, jwk: signed.jwk },
      keptChecked: o.kept?.length ?? 0,
    };
  } catch (err) {
    if (err instanceof GatewayUnreachableError) throw new FlexgateError('gateway-unreachable', err.message);
    throw err;
  } finally {
    if (!o.http) await http.close();
  }
}

type Get = (path: string, token?: string) => Promise<unknown>;

/** The checkpoint's signature: by a key of the JWKS and, with a trust root, of the key set the root signed. */
async function checkSignature(
  jws: string,
  issuer: string,
  o: LedgerVerifyOptions,
  get: Get,
): Promise<
  | { ok: true; claims: LedgerCheckpointClaims; kid: string; jwk: KeptCheckpoint['jwk']; trustedBy: 'root' | 'jwks' }
  | { ok: false; message: string }
> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { ok: false, message: 'The checkpoint is not a compact JWS.' };
  }
  if (header.alg !== SIGNING_ALG || header.typ !== CHECKPOINT_TYP || typeof header.kid !== 'string') {
    return { ok: false, message: `The checkpoint's header is not {alg: ${SIGNING_ALG}, typ: ${CHECKPOINT_TYP}, kid}.` };
  }
  const kid = header.kid;
  const jwks = parseJwks(await get('/.well-known/jwks.json'));
  const key = jwks.keys.find((k) => k.kid === kid);
  if (!key) return { ok: false, message: `The checkpoint is signed by key ${kid}, which the JWKS does not list.` };
  let trustedBy: 'root' | 'jwks' = 'jwks';
  if (o.trust !== null) {
    let keys: { kid: string; x: string }[];
    try {
      keys = (await verifyKeySet(String(await get(KEY_SET_PATH)), await trustedRoot(o.trust, get), issuer)).keys;
    } catch (err) {
      if (err instanceof TrustError) return { ok: false, message: err.message };
      throw err;
    }
    if (!keys.some((k) => k.kid === kid && k.x === key.x)) {
      return { ok: false, message: `Key ${kid} is not in the key set the trusted root key signed.` };
    }
    trustedBy = 'root';
  }
  const jwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: key.x, kid };
  const claims = await claimsVerified(jws, jwk, issuer);
  if (claims === 'bad-signature') return { ok: false, message: `The checkpoint's signature does not verify with key ${kid}.` };
  if (claims === 'bad-claims')
    return { ok: false, message: `The checkpoint is not {iss: ${issuer}, team, lastId, lastHash, count, balance, at}.` };
  return { ok: true, claims, kid, jwk, trustedBy };
}

async function claimsVerified(
  jws: string,
  jwk: KeptCheckpoint['jwk'],
  issuer: string,
): Promise<LedgerCheckpointClaims | 'bad-signature' | 'bad-claims'> {
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, SIGNING_ALG), {
      algorithms: [SIGNING_ALG],
    }));
    if (decodeProtectedHeader(jws).typ !== CHECKPOINT_TYP) return 'bad-claims';
  } catch {
    return 'bad-signature';
  }
  const parsed = claimsSchema.safeParse(JSON.parse(new TextDecoder().decode(payload)));
  return parsed.success && parsed.data.iss === issuer ? parsed.data : 'bad-claims';
}

/** A kept checkpoint's claims, verified with the key kept beside it; null when it does not verify. */
async function keptClaims(k: KeptCheckpoint, issuer: string): Promise<LedgerCheckpointClaims | null> {
  const claims = await claimsVerified(k.jws, k.jwk, issuer).catch(() => 'bad-claims' as const);
  return typeof claims === 'string' ? null : claims;
}

async function trustedRoot(trust: TrustRoot, get: Get): Promise<RootJwk> {
  const { thumbprint, root } = await parseTrust(trust);
  if (root) return root;
  const fetched = await rootMatching(await get(ROOT_KEY_PATH), thumbprint);
  if (!fetched) throw new TrustError(`The gateway's root key is not the trusted one (${thumbprint}).`);
  return fetched;
}

const keptFile = (team: string, lastId: number) => `ledger-${team}-${String(lastId).padStart(12, '0')}.json`;

/** The checkpoints of `team` kept in `dir` by earlier runs (none when the directory does not exist yet). */
export async function readKept(dir: string, team: string): Promise<KeptCheckpoint[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const prefix = `ledger-${team}-`;
  const kept: KeptCheckpoint[] = [];
  for (const name of names.filter((n) => n.startsWith(prefix) && n.endsWith('.json')).sort()) {
    kept.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as KeptCheckpoint);
  }
  return kept;
}

/** Keeps a verified checkpoint, with the public key that verified it, for later runs. */
export async function keepCheckpoint(dir: string, claims: LedgerCheckpointClaims, kept: KeptCheckpoint): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, keptFile(claims.team, claims.lastId)), `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
}
