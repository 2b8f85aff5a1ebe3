import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from '@flexgate/gateway';
import { CHECKPOINT_TYP, entryHash, GENESIS_HASH, type LedgerEntry, verifyChain } from '@flexgate/shared';
import { CompactSign, createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ed25519Pair } from '../../client/src/testing/keys';
import { type ProcessGateway, runFlexgate, startProcessGateway } from '../harness/client-e2e';
import { testEngine } from '../harness/db';
import {
  balanceOf,
  buy,
  expectLedgerMatchesBalance,
  ledgerOf,
  newMember,
  newTeam,
  seedCatalog,
  setClock,
  signIn,
} from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { type InstanceGroup, startGroup, viaInstance, withConcurrency } from '../harness/instances';
import { trustOf } from '../harness/trust';

/**
 * R5 made checkable: each team's ledger is a hash chain (docs/ledger.md), a signed checkpoint
 * vouches for its end, `flexgate ledger verify` checks both offline, and the database itself
 * refuses to change an entry. Real gateway processes, the real CLI, the database read and
 * written behind the gateway's back as someone with access to it would.
 */

const T0 = new Date('2026-03-02T09:00:00.000Z');
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** An admin of `teams` and its key (the CLI's credential). */
async function adminKeyOf(gw: TestGateway, teams: string[]): Promise<string> {
  const email = `ledger.${randomBytes(4).toString('hex')}@example.com`;
  return expectStatus(await gw.op.post('/v1/admins', { name: 'Ledger Admin', email, teams }), 201).key as string;
}

/** The checkpoint's claims, verified as anyone would: jose and the published JWKS. */
async function checkpointOf(gw: TestGateway, team: string, key: string) {
  const res = await gw.anon.as(key).get(`/v1/teams/${team}/ledger/checkpoint`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/jose/);
  const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200) as JSONWebKeySet;
  const { payload, protectedHeader } = await jwtVerify(String(res.body), createLocalJWKSet(jwks), {
    issuer: 'flexgate',
    typ: CHECKPOINT_TYP,
  });
  expect(protectedHeader.alg).toBe('EdDSA');
  return payload as unknown as { team: string; lastId: number; lastHash: string; count: number; balance: number; at: string };
}

const verify = (gw: { url: string }, team: string, key: string, ...more: string[]) =>
  runFlexgate(['ledger', 'verify', '--team', team, '--gateway', gw.url, ...more], { FLEXGATE_ADMIN_KEY: key });

/** Runs SQL on the gateway's database directly. */
async function onDatabase<T>(gw: ProcessGateway, fn: (db: ReturnType<typeof connect>['db']) => Promise<T>): Promise<T> {
  const handle = connect({ url: gw.database.url });
  try {
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

// In order: the last two tests tamper with the database behind the gateway's back, against
// checkpoints the earlier ones kept.
describe('the ledger as a hash chain (R5, docs/ledger.md)', { shuffle: false }, () => {
  let gw: ProcessGateway;
  let fx: TestGateway;
  let teamA: string;
  let teamB: string;
  let key: string;

  const keptDir = join(mkdtempSync(join(tmpdir(), 'flexgate-kept-')), 'checkpoints');

  beforeAll(async () => {
    gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1' });
    fx = gw.fixtures();
    await gw.setClock(T0);
    await seedCatalog(fx);
    // Every kind of entry: purchases (one backdated past its year: born expired, so an expiry at
    // once), charges, a refund, transfers out and in, an offline launch reported later, an expiry.
    teamA = await newTeam(fx, 100);
    teamB = await newTeam(fx, 30);
    await buy(fx, teamA, 5, new Date(T0.getTime() - 400 * 24 * 60 * MIN).toISOString());
    await buy(fx, teamA, 9, new Date(T0.getTime() - 364 * 24 * 60 * MIN).toISOString());
    const ada = await newMember(fx, teamA);
    const bob = await newMember(fx, teamA, ['revit']);
    const opened = expectStatus(await ada.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await bob.api.post('/v1/launch', { product: 'revit' }), 200);
    await gw.setClock(new Date(T0.getTime() + 2 * MIN));
    expect(expectStatus(await ada.api.post(`/v1/sessions/${opened.session.id}/end`, {}), 200)).toMatchObject({ refunded: 7 });
    expectStatus(await gw.op.post(`/v1/teams/${teamA}/transfers`, { toTeam: teamB, tokens: 12 }), 201);
    const allowance = expectStatus(await ada.api.post('/v1/offline-allowance', {}), 201);
    await gw.setClock(new Date(T0.getTime() + 30 * MIN));
    const reported = {
      product: 'autocad',
      provisional: { id: `${allowance.id}.1`, launchedAt: new Date(T0.getTime() + 10 * MIN).toISOString() },
    };
    // Its access token lapsed meanwhile: signed in again, the client reports the offline launch.
    const again = await signIn(fx, { autodeskId: ada.autodeskId, password: ada.password });
    expect(expectStatus(await again.api.post('/v1/launch', reported), 200)).toMatchObject({ charged: 7 });
    // The lot bought 364 days before T0 runs out tomorrow: the next ledger read writes its expiry.
    await gw.setClock(new Date(T0.getTime() + 2 * 24 * 60 * MIN));
    key = await adminKeyOf(fx, [teamA, teamB]);
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    rmSync(dirname(keptDir), { recursive: true, force: true });
  });

  it('R5: every kind of entry chains from 64 zeros, and each hash is SHA-256 of prevHash, a newline and the canonical JSON', async () => {
    const entries = (await ledgerOf(fx, teamA)) as LedgerEntry[];
    expect(new Set(entries.map((e) => e.kind))).toEqual(new Set(['purchase', 'charge', 'refund', 'transfer-out', 'expiry']));
    expect(entries[0]?.prevHash).toBe(GENESIS_HASH);
    const chain = verifyChain(entries);
    expect(chain.ok ? null : chain.break).toBeNull();
    for (const [i, e] of entries.entries()) {
      if (i > 0) expect(e.prevHash).toBe(entries[i - 1]?.hash);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    const inB = (await ledgerOf(fx, teamB)) as LedgerEntry[];
    // B's own chain: its purchase, then the parts moved in (one from the lot that expired since, so its expiry too).
    expect(inB.map((e) => e.kind)).toEqual(['purchase', 'transfer-in', 'transfer-in', 'expiry']);
    expect(verifyChain(inB).ok).toBe(true);
    expect(inB[0]?.prevHash).toBe(GENESIS_HASH);
    await expectLedgerMatchesBalance(fx, teamA);
  });

  it("the checkpoint is a JWS the JWKS verifies, over the chain's end, its length and the balance, for the team's admin only", async () => {
    const entries = (await ledgerOf(fx, teamA)) as LedgerEntry[];
    const c = await checkpointOf(fx, teamA, key);
    const last = entries.at(-1) as LedgerEntry;
    const balance = expectStatus(await gw.op.get(`/v1/teams/${teamA}/balance`), 200).balance;
    expect(c).toMatchObject({ team: teamA, lastId: last.id, lastHash: last.hash, count: entries.length, balance });
    expect(balance).toBe(entries.reduce((s, e) => s + e.tokens, 0));
    const other = await newTeam(fx);
    const outsider = await adminKeyOf(fx, [other]);
    expect((await gw.anon.as(outsider).get(`/v1/teams/${teamA}/ledger/checkpoint`)).body).toMatchObject({ status: 403 });
    expect((await gw.anon.get(`/v1/teams/${teamA}/ledger/checkpoint`)).body).toMatchObject({ status: 401 });
    // A team without entries yet: the genesis hash, nothing counted.
    expect(await checkpointOf(fx, other, outsider)).toMatchObject({ lastId: 0, lastHash: GENESIS_HASH, count: 0, balance: 0 });
    // A lot that ran out since anything read the team, the checkpoint the first read: it writes the
    // expiry first, so its balance is what the entries it covers add up to.
    const now = T0.getTime() + 2 * 24 * 60 * MIN;
    await buy(fx, other, 5, new Date(now - 364 * 24 * 60 * MIN).toISOString());
    await gw.setClock(new Date(now + 2 * 24 * 60 * MIN));
    const late = await checkpointOf(fx, other, outsider);
    await gw.setClock(new Date(now));
    const lateEntries = (await ledgerOf(fx, other)) as LedgerEntry[];
    expect(lateEntries.map((e) => [e.kind, e.tokens])).toEqual([
      ['purchase', 5],
      ['expiry', -5],
    ]);
    expect(late).toMatchObject({ lastId: lateEntries.at(-1)?.id, lastHash: lateEntries.at(-1)?.hash, count: 2, balance: 0 });
  });

  // Eight runs of the CLI, each a process start: 4-5 s on an idle machine, past 30 s once in a full run.
  it('flexgate ledger verify says the chain holds, against the JWKS and, with --trust, the root key', { timeout: 120_000 }, async () => {
    const plain = await verify(gw, teamA, key);
    expect(plain.code, plain.stderr).toBe(0);
    const count = ((await ledgerOf(fx, teamA)) as LedgerEntry[]).length;
    expect(plain.stdout).toMatch(new RegExp(`Ledger of ${teamA} verified: ${count} entries chain from the genesis hash`));
    expect(plain.stdout).toMatch(/no trust root/);
    expect(plain.stdout).not.toContain('written after the checkpoint'); // none were
    const rooted = await verify(gw, teamA, key, '--trust', await trustOf(fx), '--json', '--keep', keptDir);
    expect(rooted.code, rooted.stderr).toBe(0);
    expect(JSON.parse(rooted.stdout)).toMatchObject({ ok: true, trustedBy: 'root', checkpoint: { team: teamA, count }, keptChecked: 0 });
    expect(readdirSync(keptDir)).toHaveLength(1);

    // Team B, with its own kept directory: entries written since a checkpoint was kept leave its
    // entry at its position (verified, one kept checked); a kept file that does not verify is named.
    const keptB = join(dirname(keptDir), 'checkpoints-b');
    expect((await verify(gw, teamB, key, '--keep', keptB)).code).toBe(0);
    await buy(fx, teamB, 10);
    const grown = await verify(gw, teamB, key, '--json', '--keep', keptB);
    expect(grown.code, grown.stderr).toBe(0);
    expect(JSON.parse(grown.stdout)).toMatchObject({ ok: true, keptChecked: 1 });
    const damaged = { jws: 'e30.e30.AAAA', jwk: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) } };
    writeFileSync(join(keptB, `ledger-${teamB}-${'9'.repeat(12)}.json`), JSON.stringify(damaged));
    const named = await verify(gw, teamB, key, '--keep', keptB);
    expect(named.code, named.stdout).toBe(5);
    expect(named.stderr).toContain(`A kept checkpoint of ${teamB} does not verify.`);

    const wrongRoot = await verify(gw, teamA, key, '--trust', 'A'.repeat(43));
    expect(wrongRoot.code).toBe(5);
    expect(wrongRoot.stderr).toMatch(/root key is not the trusted one/);
    const refused = await verify(gw, teamA, 'adm_not-a-key');
    expect(refused.code, refused.stderr).toBe(3);
    const usage = await runFlexgate(['ledger', 'verify', '--gateway', gw.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--team/);
  });

  it('with --trust, a checkpoint signed by a key the JWKS was made to list under a real kid is refused', async () => {
    // Someone between the CLI and the gateway swaps the JWKS entry of the checkpoint's kid for
    // their own key, and re-signs the checkpoint with it: the JWKS alone believes it; the key set
    // the root signed does not list that key.
    const rogue = ed25519Pair();
    const rogueX = rogue.x;
    const proxy = createServer(async (req, res) => {
      const upstream = await fetch(`${gw.url}${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } });
      let body = await upstream.text();
      if (req.url === '/.well-known/jwks.json') {
        const jwks = JSON.parse(body) as { keys: { kid: string; x: string }[] };
        body = JSON.stringify({ keys: jwks.keys.map((k) => ({ ...k, x: rogueX })) });
      } else if (req.url?.endsWith('/ledger/checkpoint') && upstream.status === 200) {
        const [header, payload] = body.split('.') as [string, string];
        const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string };
        body = await new CompactSign(Buffer.from(payload, 'base64url'))
          .setProtectedHeader({ alg: 'EdDSA', typ: CHECKPOINT_TYP, kid })
          .sign(rogue.privateKey);
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
      res.end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const via = { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
    try {
      const jwksOnly = await verify(via, teamA, key);
      expect(jwksOnly.code, jwksOnly.stderr).toBe(0); // without a trust root the JWKS is all it has (docs/ledger.md)
      const rooted = await verify(via, teamA, key, '--trust', await trustOf(fx));
      expect(rooted.code, rooted.stdout).toBe(5);
      expect(rooted.stderr).toMatch(/Key \S+ is not in the key set the trusted root key signed\./);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('the database refuses UPDATE and DELETE on the ledger; an entry altered with the triggers dropped is named by ledger verify', async () => {
    const entries = (await ledgerOf(fx, teamA)) as LedgerEntry[];
    const position = entries.findIndex((e) => e.kind === 'charge') + 1;
    const victim = entries[position - 1] as LedgerEntry;
    await onDatabase(gw, async (db) => {
      await expect(db.updateTable('ledger').set({ delta: 1000 }).where('id', '=', victim.id).execute()).rejects.toThrow(/append-only/);
      await expect(db.deleteFrom('ledger').where('id', '=', victim.id).execute()).rejects.toThrow(/append-only/);
      if (testEngine() === 'postgres') await expect(sql`truncate ledger cascade`.execute(db)).rejects.toThrow(/append-only/);
    });
    expect(((await ledgerOf(fx, teamA)) as LedgerEntry[]).find((e) => e.id === victim.id)?.tokens).toBe(victim.tokens);

    // Someone with the database's owner rights drops the triggers and changes an amount.
    await onDatabase(gw, async (db) => {
      if (testEngine() === 'sqlite') await sql`drop trigger ledger_no_update`.execute(db);
      else await sql`drop trigger ledger_no_change on ledger`.execute(db);
      // A charge of 7 becomes one of 5; its lot gets the 2 tokens, so the balances still add up.
      await db
        .updateTable('ledger')
        .set({ delta: victim.tokens + 2 })
        .where('id', '=', victim.id)
        .execute();
      await db.updateTable('lots').set({ remaining: sql`remaining + 2` }).where('id', '=', victim.lotId).execute();
    });
    const run = await verify(gw, teamA, key);
    expect(run.code, run.stdout).toBe(5);
    expect(run.stderr).toContain(`The chain breaks at entry ${victim.id} (position ${position} of `);
    expect(run.stderr).toMatch(/the entry was altered/);
    const json = JSON.parse((await verify(gw, teamA, key, '--json')).stdout);
    expect(json).toMatchObject({ ok: false, problem: 'chain', chainBreak: { id: victim.id, position, field: 'hash', found: victim.hash } });

    // A thorough forger recomputes every hash from there on, and the chain's head: a checkpoint
    // signed now vouches for the forgery (the limit docs/ledger.md states), the one kept before does not.
    const forged = (await ledgerOf(fx, teamA)) as LedgerEntry[];
    let prev = (forged[position - 2] as LedgerEntry).hash;
    const rehashed = forged.slice(position - 1).map((e) => {
      const hash = entryHash({ ...e, prevHash: prev });
      const row = { id: e.id, prev, hash };
      prev = hash;
      return row;
    });
    await onDatabase(gw, async (db) => {
      for (const r of rehashed) await db.updateTable('ledger').set({ prev_hash: r.prev, hash: r.hash }).where('id', '=', r.id).execute();
      await db.updateTable('ledger_heads').set({ last_hash: prev }).where('team_id', '=', teamA).execute();
    });
    const fresh = await verify(gw, teamA, key);
    expect(fresh.code, fresh.stderr).toBe(0);
    const kept = await verify(gw, teamA, key, '--keep', keptDir);
    expect(kept.code, kept.stdout).toBe(5);
    const signed = entries.at(-1) as LedgerEntry;
    expect(kept.stderr).toContain(`it signed entry ${signed.id} at position ${entries.length} with hash ${signed.hash}`);
  });

  it("a ledger cut short behind the gateway's back: its fresh checkpoint agrees, the one kept before names the missing end", async () => {
    const keptCut = join(dirname(keptDir), 'checkpoints-cut');
    expect((await verify(gw, teamB, key, '--keep', keptCut)).code).toBe(0);
    await buy(fx, teamB, 4);
    expect((await verify(gw, teamB, key, '--keep', keptCut)).code).toBe(0);
    const entries = (await ledgerOf(fx, teamB)) as LedgerEntry[];
    const [before, last] = entries.slice(-2) as [LedgerEntry, LedgerEntry];
    expect(last).toMatchObject({ kind: 'purchase', tokens: 4 });

    // Someone with the owner's rights deletes the purchase, its lot, and moves the head back: what
    // is left is a whole chain, so only a checkpoint kept from before can tell.
    await onDatabase(gw, async (db) => {
      if (testEngine() === 'sqlite') await sql`drop trigger if exists ledger_no_delete`.execute(db);
      else await sql`drop trigger if exists ledger_no_change on ledger`.execute(db);
      await db.deleteFrom('ledger').where('id', '=', last.id).execute();
      await db.deleteFrom('lots').where('id', '=', String(last.lotId)).execute();
      await db
        .updateTable('ledger_heads')
        .set({ last_id: before.id, last_hash: before.hash, count: entries.length - 1 })
        .where('team_id', '=', teamB)
        .execute();
    });
    expect((await verify(gw, teamB, key)).code).toBe(0);
    const cut = await verify(gw, teamB, key, '--keep', keptCut);
    expect(cut.code, cut.stdout).toBe(5);
    expect(cut.stderr).toContain(
      `it signed entry ${last.id} at position ${entries.length} with hash ${last.hash}, the ledger now has ${entries.length - 1} entries.`,
    );
  });
});

describe('one chain per team under concurrent writers on two instances (R5)', () => {
  let group: InstanceGroup;
  beforeAll(async () => {
    group = await startGroup({ count: 2, env: { FLEXGATE_TEST_CLOCK: '1' } });
  }, 90_000);
  afterAll(async () => group?.close());

  it("concurrent launches, purchases and transfers through both instances leave both teams' chains whole and signed", async () => {
    const [one, two] = group.instances.map(viaInstance) as [TestGateway, TestGateway];
    await seedCatalog(one);
    const a = await newTeam(one, 2_000);
    const b = await newTeam(two, 2_000);
    const members = [
      ...(await Promise.all(Array.from({ length: 8 }, () => newMember(one, a, 'all')))),
      ...(await Promise.all(Array.from({ length: 8 }, () => newMember(two, b, 'all')))),
    ];
    const via = (i: number) => (i % 2 === 0 ? one : two);
    const tasks: (() => Promise<unknown>)[] = [];
    for (const [i, m] of members.entries()) {
      for (const product of ['autocad', 'revit'])
        tasks.push(async () =>
          expectStatus(
            await via(i)
              .anon.as(m.api.token as string)
              .post('/v1/launch', { product }),
            200,
          ),
        );
    }
    for (let i = 0; i < 12; i++) {
      tasks.push(async () => expectStatus(await via(i).op.post(`/v1/teams/${i % 3 ? a : b}/purchases`, { tokens: 10 + i }), 201));
      tasks.push(async () => {
        const [from, to] = i % 2 ? [a, b] : [b, a];
        return expectStatus(await via(i + 1).op.post(`/v1/teams/${from}/transfers`, { toTeam: to, tokens: 3 }), 201);
      });
    }
    // Interleaved: launches, purchases and transfers of both teams in flight at once on both instances.
    const order = tasks
      .map((t, i) => [(i * 7919) % tasks.length, t] as const)
      .sort(([x], [y]) => x - y)
      .map(([, t]) => t);
    await withConcurrency(16, order);

    const key = await adminKeyOf(one, [a, b]);
    for (const team of [a, b]) {
      const entries = (await ledgerOf(two, team)) as LedgerEntry[];
      // 8 members x 2 products charged (one or two lots each), 12 purchases spread, 12 transfers each way.
      expect(entries.filter((e) => e.kind === 'charge').length).toBeGreaterThanOrEqual(16);
      expect(entries.filter((e) => e.kind.startsWith('transfer')).length).toBeGreaterThanOrEqual(12);
      const chain = verifyChain(entries);
      expect(chain.ok ? null : chain.break).toBeNull();
      await expectLedgerMatchesBalance(one, team);
      const run = await verify(group.instances[0] as { url: string }, team, key);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`${entries.length} entries chain`);
    }
  }, 120_000);

  it('R2/R5: a lot that runs out while both instances read the ledger expires once', async () => {
    const [one, two] = group.instances.map(viaInstance) as [TestGateway, TestGateway];
    onTestFinished(async () => {
      for (const g of [one, two]) await setClock(g, new Date()); // the other test's CLI checks at the real time
    });
    for (let round = 0; round < 3; round++) {
      // Both clocks at one instant; a purchase backdated so that its year ends 2 seconds later.
      const now = new Date(T0.getTime() + round * DAY);
      for (const g of [one, two]) await setClock(g, now);
      const team = await newTeam(one, 100);
      const end = new Date(now.getTime() + 2_000);
      const purchasedAt = new Date(end);
      purchasedAt.setUTCFullYear(end.getUTCFullYear() - 1);
      const lot = expectStatus(
        await two.op.post(`/v1/teams/${team}/purchases`, { tokens: 40, purchasedAt: purchasedAt.toISOString() }),
        201,
      );
      expect(lot.expiresAt).toBe(end.toISOString());
      for (const g of [one, two]) await setClock(g, new Date(end.getTime() + 1_000));
      // Every read of a ledger writes the expiries that came due first: 24 at once, on both instances.
      const reads = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? one : two).op.get(`/v1/teams/${team}/ledger`)));
      for (const r of reads) expect(r.status).toBe(200);
      const expiries = (await ledgerOf(one, team)).filter((e) => e.kind === 'expiry');
      expect(expiries.map((e) => [e.lotId, e.tokens, e.at])).toEqual([[lot.lotId, -40, end.toISOString()]]);
      expect(await balanceOf(two, team)).toBe(100);
      await expectLedgerMatchesBalance(two, team);
    }
  }, 60_000);
});
