import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyCharges, gatewayWithCharges } from '../harness/charges';
import type { ProcessGateway } from '../harness/client-e2e';
import { testEngine } from '../harness/db';
import { type Api, expectStatus } from '../harness/http';
import { probesWhile } from '../harness/probes';

// A gateway process of its own (harness/charges.ts `gatewayWithCharges`).
let gw: ProcessGateway;
let team: string;
let admin: Api;
const tag = Math.random().toString(36).slice(2, 8);
const DAYS = 100;
const USERS = 2000;
const FIRST_DAY = Date.parse('2026-03-01T00:00:00Z');
const person = (u: number) => `u${String(u).padStart(4, '0')}.${tag}@example.com`;

/** 100 days of a large team's charges, each user one product a day: 200,000 ledger entries. */
const charges = dailyCharges(DAYS, USERS, FIRST_DAY, person);

// SQLite only: its driver is synchronous, so a statement that walks the team's ledger holds the
// event loop; PostgreSQL's answers arrive as I/O (ledger-filters.test.ts checks the answers on both).
describe.runIf(testEngine() === 'sqlite')(`R5: the ledger's filters on a team with ${charges.length.toLocaleString('en')} entries`, () => {
  beforeAll(async () => {
    ({ gw, team, admin } = await gatewayWithCharges(charges, new Date(FIRST_DAY + (DAYS + 1) * 86_400_000), 10_000_000));
  }, 120_000);
  afterAll(async () => gw?.close());

  it('a rare kind, or a user with few entries or none, is answered without holding launches behind it', async () => {
    // No charge among them: each walked all the team's entries in one statement.
    const filters: [string, (page: { kind: string; autodeskId: string | null }[]) => void][] = [
      ['kind=expiry', (page) => expect(page).toEqual([])],
      ['kind=purchase&kind=refund&kind=transfer-in', (page) => expect(page.map((e) => e.kind)).toEqual(['purchase'])],
      ['user=nobody%40example.com', (page) => expect(page).toEqual([])],
      [`user=${encodeURIComponent(person(7))}`, (page) => expect(page.filter((e) => e.autodeskId === person(7))).toHaveLength(DAYS)],
    ];
    // Each once first: what the first read after the seeding pays (pages from disk) is not the filter's.
    for (const [filter] of filters) expectStatus(await admin.get(`/v1/teams/${team}/ledger?${filter}`), 200);
    for (const [i, [filter, check]] of filters.entries()) {
      const { late, middle } = await probesWhile(gw, `ledger-${i}`, async (requestId) => {
        check(expectStatus(await admin.get(`/v1/teams/${team}/ledger?${filter}`, { 'x-request-id': requestId }), 200));
      });
      // A request held the loop for its walk: every probe sent in its middle answered after it. A
      // short one sends a few probes or none, too few to tell (it may end just before one).
      if (middle.length >= 4) {
        expect(late.length, `${filter}: late probes ${late.join(', ')} of ${middle[0]}-${middle.at(-1)}`).toBeLessThan(middle.length / 4);
      }
    }
  });
});
