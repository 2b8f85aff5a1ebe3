import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALLOWANCE_AUDIENCE, ALLOWANCE_TYP, type AllowanceClaims, FREE_CLOSE_MS, ID_TOKEN_TYP } from '@flexgate/shared';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ALLOWANCE_REFRESH_MS,
  allowanceBeforeSettled,
  allowanceFile,
  allowanceLists,
  allowanceStale,
  createAllowanceStore,
  verifyAllowance,
} from './allowance';
import { createDiskStore } from './cache';
import { claimsFor, makeKey, sign, type TestKey } from './testing/keys';
import type { Jwks } from './verify';

const now = new Date('2026-03-15T10:00:00Z');
const iat = Math.floor(now.getTime() / 1000);
const claims: AllowanceClaims = {
  iss: 'flexgate',
  aud: ALLOWANCE_AUDIENCE,
  sub: 'ada@example.com',
  aid: 'alw_abc',
  iat,
  exp: iat + 86_400,
  products: [{ product: 'autocad', team: 'team-1' }],
  launches: 6,
};

let key: TestKey;
let dir: string;
const keysOf = (jwks: Jwks | null) => async () => jwks;
const signAllowance = (k: TestKey, c: object = claims, header: object = {}) =>
  new SignJWT({ ...c }).setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: ALLOWANCE_TYP, ...header }).sign(k.privateKey);

beforeEach(async () => {
  key = await makeKey('k1');
  dir = await mkdtemp(join(tmpdir(), 'flexgate-allowance-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function why(jws: string, sub = 'ada@example.com', jwks: Jwks | null = { keys: [key.jwk] }) {
  try {
    await verifyAllowance(jws, { issuer: 'flexgate', sub, keys: keysOf(jwks), allowRefresh: false });
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('verifyAllowance', () => {
  it('accepts the gateway’s allowance whatever its dates (the decision judges them)', async () => {
    expect(await why(await signAllowance(key))).toBe('accepted');
    expect(await why(await signAllowance(key, { ...claims, iat: iat - 10 * 86_400, exp: iat - 9 * 86_400 }))).toBe('accepted');
  });

  it('refuses an edited one, another user’s, an unknown key, and an entitlement or ID token passed off as one', async () => {
    const genuine = await signAllowance(key);
    const [h, , s] = genuine.split('.') as [string, string, string];
    const more = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86_400, launches: 1000 })).toString('base64url');
    expect(await why(`${h}.${more}.${s}`)).toMatch(/does not verify/);
    expect(await why(genuine, 'eve@example.com')).toMatch(/does not verify/);
    expect(await why(await signAllowance(await makeKey('k1')))).toMatch(/does not verify/);
    expect(await why(await signAllowance(await makeKey('rogue')))).toMatch(/unknown key/);
    expect(await why(genuine, 'ada@example.com', null)).toMatch(/unknown key/);
    expect(await why(await sign(key, claimsFor({ now })))).toMatch(/wrong algorithm, type or key id/);
    expect(await why(await signAllowance(key, claims, { typ: ID_TOKEN_TYP }))).toMatch(/wrong algorithm, type or key id/);
    expect(await why(await signAllowance(key, { ...claims, aud: 'flexgate:entitlement' }))).toMatch(/does not verify/);
    expect(await why(await signAllowance(key, { ...claims, products: 'everything' }))).toMatch(/lacks required claims/);
  });
});

describe('the allowance file', () => {
  it('is verified on every read: an edited file is simply no allowance', async () => {
    const store = createAllowanceStore(createDiskStore(dir), {
      gatewayUrl: 'http://gw',
      issuer: 'flexgate',
      keys: keysOf({ keys: [key.jwk] }),
    });
    await store.put('ada@example.com', await signAllowance(key), now);
    expect((await store.get('ada@example.com'))?.claims.aid).toBe('alw_abc');
    const path = join(dir, allowanceFile('ada@example.com'));
    const file = JSON.parse(await readFile(path, 'utf8'));
    const [h, , s] = file.allowance.split('.');
    const wider = Buffer.from(JSON.stringify({ ...claims, products: [{ product: 'maya', team: null }] })).toString('base64url');
    await writeFile(path, JSON.stringify({ ...file, allowance: `${h}.${wider}.${s}` }));
    expect(await store.get('ada@example.com')).toBeNull();
    await store.remove('ada@example.com');
    expect(await store.get('ada@example.com')).toBeNull();
  });
});

describe('allowanceStale', () => {
  it('asks again when there is none, it is an hour old, or it does not list the product just granted', () => {
    expect(allowanceStale(null, now)).toBe(true);
    expect(allowanceStale(claims, now)).toBe(false);
    expect(allowanceStale(claims, new Date(now.getTime() + ALLOWANCE_REFRESH_MS - 1000), 'autocad')).toBe(false);
    expect(allowanceStale(claims, new Date(now.getTime() + ALLOWANCE_REFRESH_MS))).toBe(true);
    expect(allowanceStale(claims, now, 'revit')).toBe(true);
  });
});

describe('allowanceBeforeSettled', () => {
  // A session opened 2 minutes before the allowance was signed: its free window ends 3 minutes after.
  const startsAt = new Date(now.getTime() - 2 * 60_000).toISOString();
  const later = new Date(now.getTime() + 30 * 60_000);

  it('asks once a settled day is missing from an allowance signed within its free window', () => {
    expect(allowanceBeforeSettled(claims, 'revit', startsAt, later)).toBe(true);
    // Signed at the window's very end: the gateway still counts that instant as free.
    const atEnd = { ...claims, iat: Math.floor((Date.parse(startsAt) + FREE_CLOSE_MS) / 1000) };
    expect(allowanceBeforeSettled(atEnd, 'revit', startsAt, later)).toBe(true);
  });

  it('does not ask again once the allowance kept was signed after the window, lists the product, or is absent', () => {
    const after = { ...claims, iat: Math.floor((Date.parse(startsAt) + FREE_CLOSE_MS) / 1000) + 1 };
    expect(allowanceBeforeSettled(after, 'revit', startsAt, later)).toBe(false);
    expect(allowanceBeforeSettled(claims, 'autocad', startsAt, later)).toBe(false);
    expect(allowanceBeforeSettled(null, 'revit', startsAt, later)).toBe(false);
    expect(allowanceBeforeSettled(claims, 'revit', 'not an instant', later)).toBe(false);
  });
});

describe('a day already paid for (`paid`)', () => {
  const paid: AllowanceClaims = { ...claims, paid: [{ product: 'revit', team: 'team-1', until: iat + 3600 }] };

  it('is read from the signed claims; an allowance without it (an older gateway) has none', async () => {
    const verify = (jws: string) =>
      verifyAllowance(jws, { issuer: 'flexgate', sub: 'ada@example.com', keys: keysOf({ keys: [key.jwk] }), allowRefresh: false });
    expect((await verify(await signAllowance(key, paid))).paid).toEqual(paid.paid);
    expect((await verify(await signAllowance(key))).paid).toEqual([]);
    expect(await why(await signAllowance(key, { ...paid, paid: [{ product: 'revit', team: null, until: iat }] }))).toMatch(
      /lacks required claims/,
    );
  });

  it('lists the product until the day ends: a grant of it then asks for no new allowance, after it does', () => {
    expect(allowanceLists(paid, 'revit', now)).toBe(true);
    expect(allowanceStale(paid, now, 'revit')).toBe(false);
    const ended = new Date((iat + 3600) * 1000);
    expect(allowanceLists(paid, 'revit', ended)).toBe(false);
    expect(allowanceStale(paid, new Date(ended.getTime() - 1000), 'revit')).toBe(false);
    expect(allowanceStale(paid, ended, 'revit')).toBe(true);
  });
});
