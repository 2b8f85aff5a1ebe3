import { connect } from '@flexgate/gateway';
import { entryHash, GENESIS_HASH } from '@flexgate/shared';
import { sql } from 'kysely';
import { newAdmin } from './admin';
import { type ProcessGateway, startProcessGateway } from './client-e2e';
import { CATALOG, newTeam, seedCatalog } from './fixtures';
import type { Api } from './http';

/** One day's charge of a product to a user, as a launch would write it. */
export interface SeedCharge {
  at: string;
  autodeskId: string;
  product: (typeof CATALOG)[number]['key'];
}

/**
 * A large team's charges, written straight into its ledger after one purchase of `tokens` (chained
 * as the gateway chains them): through the API they would take far longer than the test. The team
 * must have no ledger yet; `charges` in time order, a session each, written as a launch writes it
 * and ended (the ledger's user filter finds a user's entries through them), its users with no
 * sessions yet.
 */
export async function writeCharges(url: string, team: string, charges: readonly SeedCharge[], tokens = 1_000_000): Promise<void> {
  const handle = connect({ url });
  const tag = Math.random().toString(36).slice(2, 8);
  const lotId = `lot_${tag}`;
  const first = charges[0]?.at ?? new Date().toISOString();
  try {
    await handle.db
      .insertInto('lots')
      .values({
        id: lotId,
        team_id: team,
        tokens,
        remaining: tokens,
        purchased_at: first,
        expires_at: new Date(Date.parse(first) + 365 * 86_400_000).toISOString(),
        origin_lot_id: null,
        created_at: first,
      })
      .execute();
    const last = await handle.db.selectFrom('ledger').select(sql<number>`coalesce(max(id), 0)`.as('id')).executeTakeFirstOrThrow();
    let id = Number(last.id);
    let prev = GENESIS_HASH;
    let spent = 0;
    const rows = [];
    const sessions = [];
    const seqs = new Map<string, number>();
    for (let i = 0; i <= charges.length; i++) {
      const c = charges[i - 1];
      const product = c ? CATALOG.find((p) => p.key === c.product) : undefined;
      if (c && !product) throw new Error(`not in the test catalog: ${c.product}`);
      const entry = {
        id: ++id,
        at: c ? c.at : first,
        kind: c ? ('charge' as const) : ('purchase' as const),
        tokens: product ? -product.dailyRate : tokens,
        lotId,
        actor: c ? `user:${c.autodeskId}` : 'operator',
        autodeskId: c ? c.autodeskId : null,
        product: product ? product.key : null,
        sessionId: c ? `ses_${tag}_${i}` : null,
        reason: product ? `${product.name} for a day` : 'purchase',
        prevHash: prev,
      };
      prev = entryHash(entry);
      if (product) spent += product.dailyRate;
      rows.push({
        id: entry.id,
        team_id: team,
        lot_id: entry.lotId,
        kind: entry.kind,
        delta: entry.tokens,
        at: entry.at,
        actor: entry.actor,
        autodesk_id: entry.autodeskId,
        product_key: entry.product,
        session_id: entry.sessionId,
        reason: entry.reason,
        prev_hash: entry.prevHash,
        hash: prev,
      });
      if (!c || !product || !entry.sessionId) continue;
      const seq = (seqs.get(`${c.autodeskId}\n${c.product}`) ?? 0) + 1;
      seqs.set(`${c.autodeskId}\n${c.product}`, seq);
      const ends = new Date(Date.parse(c.at) + 86_400_000).toISOString();
      sessions.push({
        id: entry.sessionId,
        autodesk_id: c.autodeskId,
        product_key: c.product,
        seq,
        team_id: team,
        starts_at: c.at,
        ends_at: ends,
        rate: product.dailyRate,
        charged: product.dailyRate,
        refunded: 0,
        ended_at: c.at,
        last_seen_at: c.at,
        machine: null,
        provisional_id: null,
        entitlement: 'seeded',
        entitlement_exp: ends,
        settled_at: c.at,
      });
    }
    for (let i = 0; i < sessions.length; i += 500) {
      await handle.db
        .insertInto('usage_sessions')
        .values(sessions.slice(i, i + 500))
        .execute();
    }
    for (let i = 0; i < rows.length; i += 1000) {
      await handle.db
        .insertInto('ledger')
        .values(rows.slice(i, i + 1000))
        .execute();
    }
    await handle.db.insertInto('ledger_heads').values({ team_id: team, last_id: id, last_hash: prev, count: rows.length }).execute();
    await handle.db
      .updateTable('lots')
      .set({ remaining: tokens - spent })
      .where('id', '=', lotId)
      .execute();
    // Explicit ids do not move PostgreSQL's sequence; SQLite's AUTOINCREMENT follows them itself.
    if (handle.engine === 'postgres') await sql`select setval('ledger_id_seq', ${id})`.execute(handle.db);
  } finally {
    await handle.close();
  }
}

/** `days` days of charges from `firstDay`, each of `users` people one product a day, a second apart, in time order. */
export function dailyCharges(days: number, users: number, firstDay: number, person: (u: number) => string): SeedCharge[] {
  return Array.from({ length: days * users }, (_, c) => ({
    at: new Date(firstDay + Math.floor(c / users) * 86_400_000 + (c % users) * 1000).toISOString(),
    autodeskId: person(c % users),
    product: (CATALOG[c % CATALOG.length] as (typeof CATALOG)[number]).key,
  }));
}

/**
 * A gateway process of its own (one in the test's process would share its event loop with the
 * requests that observe it), with info logs (the access log's order is a probe test's evidence,
 * harness/probes.ts), its test clock at `now`, and one team whose ledger holds `charges`.
 */
export async function gatewayWithCharges(
  charges: readonly SeedCharge[],
  now: Date,
  tokens?: number,
): Promise<{ gw: ProcessGateway; team: string; admin: Api }> {
  const gw = await startProcessGateway({ FLEXGATE_LOG: 'info', FLEXGATE_TEST_CLOCK: '1' });
  try {
    await seedCatalog(gw.fixtures());
    const team = await newTeam(gw.fixtures());
    const admin = (await newAdmin(gw.fixtures(), [team])).api;
    await gw.setClock(now);
    await writeCharges(gw.database.url, team, charges, tokens);
    return { gw, team, admin };
  } catch (error) {
    await gw.close();
    throw error;
  }
}
