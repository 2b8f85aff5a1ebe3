/**
 * The console's per-user usage view (R15) in pages, on both engines: a team with more users than a
 * page holds, many of them tied on days used and tokens, read page after page through "Next page".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin } from '../harness/admin';
import { writeCharges } from '../harness/charges';
import { type ConsoleBrowser, consoleSignIn, textOf, unescapeHtml } from '../harness/console';
import { newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';

const T0 = new Date('2026-03-15T10:00:00Z');
const USERS = 230;
const tag = Math.random().toString(36).slice(2, 8);
let gw: TestGateway;
let team: string;
let browser: ConsoleBrowser;

// User u: 1-3 days of use (2-4 March), Revit (10 tokens a day) for one in four, AutoCAD (7) for
// the rest; IDs numbered out of that order, so ties are broken by ID, not by when they were written.
const person = (u: number) => `p${String((u * 37) % USERS).padStart(3, '0')}.${tag}@example.com`;
const days = (u: number) => 1 + (u % 3);
const product = (u: number) => (u % 4 === 0 ? ('revit' as const) : ('autocad' as const));
const charges = [0, 1, 2].flatMap((d) =>
  Array.from({ length: USERS }, (_, u) => u)
    .filter((u) => d < days(u))
    .map((u) => ({
      at: new Date(Date.parse('2026-03-02T09:00:00Z') + d * 86_400_000 + u * 1000).toISOString(),
      autodeskId: person(u),
      product: product(u),
    })),
);
/** R15's order, worked out here: most days used, then most tokens, then by Autodesk ID. */
const expected = Array.from({ length: USERS }, (_, u) => ({
  id: person(u),
  days: days(u),
  tokens: days(u) * (product(u) === 'revit' ? 10 : 7),
}))
  .sort((a, b) => b.days - a.days || b.tokens - a.tokens || (a.id < b.id ? -1 : 1))
  .map((u) => u.id);

beforeAll(async () => {
  gw = await startTestGateway();
  await setClock(gw, T0);
  await seedCatalog(gw);
  team = await newTeam(gw);
  await writeCharges(gw.database.url, team, charges);
  browser = await consoleSignIn(gw, (await newAdmin(gw, [team])).api.token as string);
});
afterAll(async () => gw?.close());

const usersOf = (html: string) => [...html.matchAll(/<tr data-user="([^"]+)"/g)].map((m) => unescapeHtml(m[1] ?? ''));
const nextOf = (html: string) => {
  const m = /<a href="([^"]+)" rel="next">/.exec(html);
  return m ? unescapeHtml(m[1] ?? '') : null;
};
const countOf = (html: string) => textOf(/<p class="user-count">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '');

describe('console: the per-user usage view in pages (R15)', () => {
  it('R15: a team with more users than a page shows each user once across the pages, in the view order, with the total on each', async () => {
    const seen: string[] = [];
    let path: string | null = `/console/teams/${team}/usage?by=user&from=2026-03-01&to=2026-03-15`;
    const pages: string[] = [];
    while (path !== null && pages.length < 5) {
      const page = await browser.get(path);
      expect(page.status, path).toBe(200);
      pages.push(page.html);
      const users = usersOf(page.html);
      expect(users.length, path).toBeLessThanOrEqual(100);
      expect(countOf(page.html), path).toBe(
        `${USERS} users used a product in this range: ${seen.length + 1}-${seen.length + users.length} here, most days used first.`,
      );
      // The first page links to no first page; the others do, to this range and grouping.
      expect(page.html.includes('>First page</a>'), path).toBe(seen.length > 0);
      seen.push(...users);
      path = nextOf(page.html);
      if (path !== null) expect(path).toMatch(/^\/console\/teams\/[^/?]+\/usage\?from=2026-03-01&to=2026-03-15&by=user&after=/);
    }
    expect(pages).toHaveLength(3);
    expect(seen).toEqual(expected);
    // The report above the weeks is not paged: every user's tokens and sessions, on every page.
    for (const html of pages) expect(html.split('<table class="usage">')[1]?.split('</table>')[0]?.split('<tr>').length).toBe(USERS + 3);
  });

  it('R15: a preset is kept from page to page; a cursor that is not one starts over, as the Members page does', async () => {
    const first = (await browser.get(`/console/teams/${team}/usage?by=user&range=30d`)).html;
    expect(usersOf(first)).toEqual(expected.slice(0, 100));
    const next = nextOf(first);
    expect(next).toMatch(/\?range=30d&by=user&after=/);
    expect(usersOf((await browser.get(next as string)).html)).toEqual(expected.slice(100, 200));
    for (const after of ['nonsense', '3.x.a@x.com', '']) {
      const page = await browser.get(`/console/teams/${team}/usage?by=user&range=30d&after=${encodeURIComponent(after)}`);
      expect(page.status).toBe(200);
      expect(usersOf(page.html), after).toEqual(expected.slice(0, 100));
    }
  });
});
