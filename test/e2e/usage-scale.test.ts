import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyCharges, gatewayWithCharges } from '../harness/charges';
import type { ProcessGateway } from '../harness/client-e2e';
import { consoleSignIn } from '../harness/console';
import { testEngine } from '../harness/db';
import { CATALOG } from '../harness/fixtures';
import { type Api, expectStatus } from '../harness/http';
import { probesWhileRead } from '../harness/probes';

// A gateway process of its own (harness/charges.ts `gatewayWithCharges`).
let gw: ProcessGateway;
let team: string;
let admin: Api;
const tag = Math.random().toString(36).slice(2, 8);
const DAYS = 80;
const USERS = 750;
const CHARGES = DAYS * USERS; // each user one product a day: one cell of the export each
const FIRST_DAY = Date.parse('2026-03-01T00:00:00Z');
const person = (u: number) => `u${String(u).padStart(4, '0')}.${tag}@example.com`;

/** 80 days of a large team's charges: each user one product a day, one cell of the export each. */
const charges = dailyCharges(DAYS, USERS, FIRST_DAY, person);

// SQLite only: its driver is synchronous, so a report read in one statement holds the event loop;
// PostgreSQL's answers arrive as I/O (admin-usage.test.ts checks the reports' figures on both).
describe.runIf(testEngine() === 'sqlite')(
  `R15: usage reports of a team with ${CHARGES.toLocaleString('en')} charges over ${DAYS} days`,
  { shuffle: false },
  () => {
    beforeAll(async () => {
      ({ gw, team, admin } = await gatewayWithCharges(charges, new Date(FIRST_DAY + (DAYS + 1) * 86_400_000)));
      // The rollups folded once, before anything is measured: the reports below read the ledger itself.
      expectStatus(await admin.get(`/v1/teams/${team}/usage?by=day&from=2026-03-01&to=2026-05-19`), 200);
    });
    afterAll(async () => gw?.close());

    it("while the CSV export is written, other requests are answered before it's done", async () => {
      let csv = '';
      const { late, middle } = await probesWhileRead(gw, 'export', async (requestId) => {
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

    // Part days at both ends from the ledger, whole days between from the rollups: one statement
    // over the ledger held the event loop for the whole range. (Whole days alone, one statement over
    // the rollups, took too few probes' time at this size to tell: BENCHMARKS.md, session 48.)
    it("while usage by user over part days is read, other requests are answered before it's done", async () => {
      let users = 0;
      const { late, middle } = await probesWhileRead(gw, 'by-user', async (requestId) => {
        const q = new URLSearchParams({ by: 'user', from: '2026-03-01T12:00:00Z', to: '2026-05-19T12:00:00Z' });
        const r = await admin.get(`/v1/teams/${team}/usage?${q}`, { 'x-request-id': requestId });
        expect(r.status).toBe(200);
        users = (r.body as { rows: unknown[] }).rows.length;
      });
      expect(users).toBe(USERS);
      // This read is quick (25-45 ms on a quiet machine, a few statements of rollups): on a fast
      // machine even three tries may leave only a few probes in its middle. Fewer than five must
      // then all be answered before it; a gateway holding its event loop answers every one after.
      expect(middle.length).toBeGreaterThan(0);
      expect(late.length, `late probes ${late.join(', ')} of ${middle[0]}-${middle.at(-1)}`).toBeLessThan(Math.max(1, middle.length / 4));
    });

    it("while the console's by-product view is computed, other requests are answered before it's done", async () => {
      const browser = await consoleSignIn(gw.fixtures(), admin.token as string);
      let html = '';
      const { late, middle } = await probesWhileRead(gw, 'views', async (requestId) => {
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
