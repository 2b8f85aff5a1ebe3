import { randomBytes } from 'node:crypto';
import { verifyChain } from '@flexgate/shared';
import { expect } from 'vitest';
import { mailsTo, tokenOf } from './admin';
import type { TestGateway } from './gateway';
import { type Api, expectStatus } from './http';

const unique = () => randomBytes(4).toString('hex');

/** Realistic daily rates (AutoCAD 7 and Revit 10 are Autodesk's public Flex figures). */
export const CATALOG = [
  { key: 'autocad', name: 'AutoCAD', dailyRate: 7 },
  { key: 'revit', name: 'Revit', dailyRate: 10 },
  { key: 'maya', name: 'Maya', dailyRate: 9 },
  { key: '3ds-max', name: '3ds Max', dailyRate: 9 },
  { key: 'civil-3d', name: 'Civil 3D', dailyRate: 11 },
] as const;

export async function seedCatalog(gw: TestGateway): Promise<void> {
  for (const p of CATALOG) {
    const r = await gw.op.post('/v1/products', p);
    if (r.status !== 201 && r.status !== 409) expectStatus(r, 201);
  }
}

export async function newTeam(gw: TestGateway, tokens?: number, purchasedAt?: string): Promise<string> {
  const team = expectStatus(await gw.op.post('/v1/teams', { name: `Team ${unique()}` }), 201);
  if (tokens) await buy(gw, team.id, tokens, purchasedAt);
  return team.id as string;
}

export async function buy(gw: TestGateway, team: string, tokens: number, purchasedAt?: string) {
  return expectStatus(await gw.op.post(`/v1/teams/${team}/purchases`, { tokens, ...(purchasedAt ? { purchasedAt } : {}) }), 201);
}

export interface TestUser {
  autodeskId: string;
  password: string;
  api: Api;
}

export async function newAccount(gw: TestGateway, prefix = 'user'): Promise<{ autodeskId: string; password: string }> {
  const autodeskId = `${prefix}.${unique()}@example.com`;
  const password = `pw-${unique()}-${unique()}`;
  expectStatus(await gw.op.post('/v1/users', { autodeskId, name: `${prefix} ${unique()}`, password }), 201);
  return { autodeskId, password };
}

export async function signIn(gw: TestGateway, account: { autodeskId: string; password: string }): Promise<TestUser> {
  const { token } = expectStatus(await gw.anon.post('/v1/signin', account), 200);
  return { ...account, api: gw.anon.as(token) };
}

/**
 * R11: an existing account joins `team` the only way the API allows: an admin (the operator by
 * default) asks it, and the person accepts with their own password, through the token of the
 * invitation e-mail.
 */
export async function joinTeam(
  gw: Pick<TestGateway, 'op' | 'anon'>,
  team: string,
  account: { autodeskId: string; password: string },
  selection: { products?: string[]; allProducts?: boolean; guest?: boolean } = {},
  admin: Api = gw.op,
): Promise<void> {
  expectStatus(await admin.post(`/v1/teams/${team}/members`, { autodeskId: account.autodeskId, ...selection }), 201);
  await acceptInvitationOf(gw, account);
}

/** Accepts the latest invitation e-mailed to the account, with its password. */
export async function acceptInvitationOf(
  gw: Pick<TestGateway, 'op' | 'anon'>,
  account: { autodeskId: string; password: string },
): Promise<void> {
  const mail = (await mailsTo(gw, account.autodeskId)).filter((m) => m.kind === 'invitation').at(-1);
  if (!mail) throw new Error(`no invitation e-mail to ${account.autodeskId}`);
  expectStatus(await gw.anon.post('/v1/invitations/accept', { token: tokenOf(mail.text), password: account.password }), 200);
}

/** A signed-in member of `team` with Flex access to `products`. */
export async function newMember(gw: TestGateway, team: string, products: string[] | 'all' = ['autocad']): Promise<TestUser> {
  const account = await newAccount(gw);
  await joinTeam(gw, team, account, products === 'all' ? { allProducts: true } : { products });
  return signIn(gw, account);
}

export async function setClock(gw: TestGateway, now: Date | string): Promise<void> {
  expectStatus(await gw.op.post('/v1/test/clock', { now: new Date(now).toISOString() }), 200);
}

export async function balanceOf(gw: TestGateway, team: string): Promise<number> {
  return expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200).balance;
}

export async function ledgerOf(gw: TestGateway, team: string): Promise<any[]> {
  const entries: any[] = [];
  let after = 0;
  for (;;) {
    const page = expectStatus(await gw.op.get(`/v1/teams/${team}/ledger?after=${after}&limit=10000`), 200) as any[];
    entries.push(...page);
    if (page.length < 10000) return entries;
    after = page[page.length - 1].id;
  }
}

/**
 * R5: the ledger and the balance agree. Every lot holds exactly the sum of its ledger entries,
 * and the balance is what the unexpired lots hold (the ledger read settles due expiries first).
 * The entries form one unbroken hash chain from the genesis hash (docs/ledger.md).
 */
export async function expectLedgerMatchesBalance(gw: TestGateway, team: string): Promise<void> {
  const entries = await ledgerOf(gw, team);
  const chain = verifyChain(entries);
  expect(chain.ok ? null : chain.break, `team ${team}: the ledger's hash chain`).toBeNull();
  const { balance, lots } = expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200);
  const perLot = new Map<string, number>();
  for (const e of entries) perLot.set(e.lotId, (perLot.get(e.lotId) ?? 0) + e.tokens);
  for (const lot of lots) {
    expect(lot.remaining, `lot ${lot.id} remaining vs its ledger entries`).toBe(perLot.get(lot.id) ?? 0);
    expect(lot.remaining).toBeGreaterThanOrEqual(0);
  }
  const ledgerTotal = entries.reduce((s, e) => s + e.tokens, 0);
  expect(balance, 'balance vs ledger total').toBe(ledgerTotal);
  expect(balance).toBe(lots.filter((l: any) => !l.expired).reduce((s: number, l: any) => s + l.remaining, 0));
}
