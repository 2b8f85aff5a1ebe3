import { connect } from '@flexgate/gateway';
import { entryHash, GENESIS_HASH } from '@flexgate/shared';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { type ProcessGateway, startProcessGateway } from '../harness/client-e2e';
import { consoleSignIn } from '../harness/console';
import { testEngine } from '../harness/db';
import { CATALOG, newTeam, seedCatalog } from '../harness/fixtures';
import { type Api, expectStatus } from '../harness/http';
import { probesWhile } from '../harness/probes';

// A gateway process of its own: a gateway in the test's process would share its event loop with
// the requests that observe it.
let gw: ProcessGateway;
let team: string;
let admin: Api;
const tag = Math.random().toString(36).slice(2, 8);
const DAYS = 80;
const USERS = 750;
const CHARGES = DAYS * USERS; // each user one product a day: one cell of the export each
const FIRST_DAY = Date.parse('2026-03-01T00:00:00Z');
const person = (u: number) => `u${String(u).padStart(4, '0')}.${tag}@example.com`;

/**
 * 80 days of a large team's charges, written straight into its ledger (chained as the
 * gateway chains them): through the API they would take far longer than the test.
 */
async function seedCharges(url: string): Promise<void> {
  const handle = connect({ url });
  try {
    const at = new Date(FIRST_DAY).toISOString();
    await handle.db
      .insertInto('lots')
      .values({
        id: `lot_${tag}`,
        team_id: team,
        tokens: 1_000_000,
        remaining: 1_000_000,
        purchased_at: at,
        expires_at: '2027-03-01T00:00:00.000Z',
        origin_lot_id: null,
        created_at: at,
      })
      .execute();
    const last = await handle.db.selectFrom('ledger').select(sql<number>`coalesce(max(id), 0)`.as('id')).executeTakeFirstOrThrow();
    let id = Number(last.id);
    let prev = GENESIS_HASH;
    let spent = 0;
    const rows = [];
    for (let i = 0; i <= CHARGES; i++) {
      const purchase = i === 0;
      const c = i - 1;
      const product = CATALOG[c % CATALOG.length] as (typeof CATALOG)[number];
      const user = person(c % USERS);
      const entry = {
        id: ++id,
        at: new Date(purchase ? FIRST_DAY : FIRST_DAY + Math.floor(c / USERS) * 86_400_000 + (c % USERS) * 1000).toISOString(),
        kind: purchase ? ('purchase' as const) : ('charge' as const),
        tokens: purchase ? 1_000_000 : -product.dailyRate,
        lotId: `lot_${tag}`,
        actor: purchase ? 'operator' : `user:${user}`,
        autodeskId: purchase ? null : user,
        product: purchase ? null : product.key,
        sessionId: purchase ? null : `ses_${tag}_${c}`,
        reason: purchase ? 'purchase' : `${product.name} for a day`,
        prevHash: prev,
      };
      prev = entryHash(entry);
      if (!purchase) spent += product.dailyRate;
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
      .set({ remaining: 1_000_000 - spent })
      .where('id', '=', `lot_${tag}`)
      .execute();
    // Explicit ids do not move PostgreSQL's sequence; SQLite's AUTOINCREMENT follows them itself.
    if (handle.engine === 'postgres') await sql`select setval('ledger_id_seq', ${id})`.execute(handle.db);
  } finally {
    await handle.close();
  }
}

// SQLite only: its driver is synchronous, so a report read in one statement holds the event loop;
// PostgreSQL's answers arrive as I/O (admin-usage.test.ts checks the reports' figures on both).
describe.runIf(testEngine() === 'sqlite')(
  `R15: usage reports of a team with ${CHARGES.toLocaleString('en')} charges over ${DAYS} days`,
  { shuffle: false },
  () => {
    beforeAll(async () => {
      // Info logs: the access log's order is the tests' evidence (harness/probes.ts).
      gw = await startProcessGateway({ FLEXGATE_LOG: 'info', FLEXGATE_TEST_CLOCK: '1' });
      await seedCatalog(gw.fixtures());
      team = await newTeam(gw.fixtures());
      admin = (await newAdmin(gw.fixtures(), [team])).api;
      await gw.setClock(new Date(FIRST_DAY + (DAYS + 1) * 86_400_000));
      await seedCharges(gw.database.url);
      // The rollups folded once, before anything is measured: the reports below read the ledger itself.
      expectStatus(await admin.get(`/v1/teams/${team}/usage?by=day&from=2026-03-01&to=2026-05-19`), 200);
    });
    afterAll(async () => gw?.close());

    it("while the CSV export is written, other requests are answered before it's done", async () => {
      let csv = '';
      const { late, middle } = await probesWhile(gw, 'export', async (requestId) => {
        const r = await admin.get(`/v1/teams/${team}/usage?format=csv&from=2026-03-01&to=2026-05-19`, { 'x-request-id': requestId });
        expect(r.status).toBe(200);
        csv = r.text;
      });
      // Every (day, user, product) cell once, in day order, under the header.
      const lines = csv.trimEnd().split(/\r?\n/);
      expect(lines).toHaveLength(CHARGES + 1);
      expect(lines[0]).toBe('Day used,Email,First name,Last name,Product,Team,Tokens used');
      expect(lines[1]).toMatch(/^2026-03-01,u0000\./);
      expect(lines.at(-1)).toMatch(/^2026-05-19,u0749\./);
      expect(middle.length).toBeGreaterThan(4);
      // Most, not all: a day's step is one turn, and a probe sent during the last one is answered after.
      // A gateway that reads the whole range in one turn answers none of them before it.
      expect(late.length, `late probes ${late.join(', ')} of ${middle[0]}-${middle.at(-1)}`).toBeLessThan(middle.length / 4);
    });

    it("while the console's by-product view is computed, other requests are answered before it's done", async () => {
      const browser = await consoleSignIn(gw.fixtures(), admin.token as string);
      let html = '';
      const { late, middle } = await probesWhile(gw, 'views', async (requestId) => {
        const page = await browser.get(`/console/teams/${team}/usage?by=product&range=3m`, { 'x-request-id': requestId });
        expect(page.status).toBe(200);
        html = page.html;
      });
      // Each product's users, all of them (every user used one product a day, the same one each day).
      for (const p of CATALOG) expect(html).toContain(`<strong>${p.name}</strong>: ${USERS / CATALOG.length} users,`);
      expect(middle.length).toBeGreaterThan(4);
      expect(late.length, `late probes ${late.join(', ')} of ${middle[0]}-${middle.at(-1)}`).toBeLessThan(middle.length / 4);
    });
  },
);
