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
  http?: Http;
}

export type LedgerVerdict =
  | { ok: true; checkpoint: LedgerCheckpointClaims; kid: string; trustedBy: 'root' | 'jwks'; verified: ChainSummary; later: number }
  | {
      ok: false;
      /** What failed: the checkpoint's signature, the chain itself, or the chain against the checkpoint. */
      problem: 'signature' | 'chain' | 'checkpoint';
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
    return { ok: true, checkpoint, kid: signed.kid, trustedBy: signed.trustedBy, verified: s, later: entries.length - s.count };
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
): Promise<{ ok: true; claims: LedgerCheckpointClaims; kid: string; trustedBy: 'root' | 'jwks' } | { ok: false; message: string }> {
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
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, await importJWK({ kty: key.kty, crv: key.crv, x: key.x }, SIGNING_ALG), {
      algorithms: [SIGNING_ALG],
    }));
  } catch {
    return { ok: false, message: `The checkpoint's signature does not verify with key ${kid}.` };
  }
  const parsed = claimsSchema.safeParse(JSON.parse(new TextDecoder().decode(payload)));
  if (!parsed.success) return { ok: false, message: 'The checkpoint does not say {team, lastId, lastHash, count, balance, at}.' };
  if (parsed.data.iss !== issuer) return { ok: false, message: `The checkpoint's issuer is ${parsed.data.iss}, not ${issuer}.` };
  return { ok: true, claims: parsed.data, kid, trustedBy };
}

async function trustedRoot(trust: TrustRoot, get: Get): Promise<RootJwk> {
  const { thumbprint, root } = await parseTrust(trust);
  if (root) return root;
  const fetched = await rootMatching(await get(ROOT_KEY_PATH), thumbprint);
  if (!fetched) throw new TrustError(`The gateway's root key is not the trusted one (${thumbprint}).`);
  return fetched;
}
