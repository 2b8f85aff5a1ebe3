import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMembers, newAdmin, postCsv } from '../harness/admin';
import { type ProcessGateway, startProcessGateway } from '../harness/client-e2e';
import { newTeam, seedCatalog } from '../harness/fixtures';
import { type Api, expectStatus } from '../harness/http';

// A gateway process of its own: a gateway in the test's process would share its event loop with
// the requests that observe it.
let gw: ProcessGateway;
let team: string;
let admin: Api;
const tag = Math.random().toString(36).slice(2, 8);
const ROWS = 10_000;

function memberCsv(): string {
  const lines = ['name,email,products,guest'];
  for (let i = 0; i < ROWS; i++) lines.push(`"Person ${i}, Scale",p${String(i).padStart(5, '0')}.${tag}@example.com,autocad;revit,`);
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  gw = await startProcessGateway();
  await seedCatalog(gw.fixtures());
  team = await newTeam(gw.fixtures());
  admin = (await newAdmin(gw.fixtures(), [team])).api;
});
afterAll(async () => gw?.close());

// The first test imports the team's 10,000 members; the others read them.
describe('a 10,000-row team', () => {
  it('R14: while a 10,000-row import runs, other requests are answered before it finishes', async () => {
    const csv = memberCsv();
    let importDone = false;
    const probes: { index: number; answeredDuringImport: boolean | null }[] = [];
    const probe = (index: number) => {
      const p = { index, answeredDuringImport: null as boolean | null };
      probes.push(p);
      return gw.anon.get('/healthz').then((r) => {
        expect(r.status).toBe(200);
        p.answeredDuringImport = !importDone;
      });
    };
    const sent: Promise<void>[] = [];
    const imported = postCsv(admin, `/v1/teams/${team}/members/import`, csv).then((r) => {
      importDone = true;
      return r;
    });
    const timer = setInterval(() => sent.push(probe(probes.length)), 5);
    const result = expectStatus(await imported, 200);
    clearInterval(timer);
    await Promise.all(sent);
    expect(result).toEqual({ created: ROWS, updated: 0, errors: [] });

    // The probes sent in the middle half of the import: a gateway that held its event loop for the
    // whole import would answer them all after it, in one go.
    const middle = probes.slice(Math.floor(probes.length / 4), Math.ceil((probes.length * 3) / 4));
    expect(middle.length).toBeGreaterThan(4);
    // Most, not all: on a loaded machine a probe can land behind one step's write (500 rows) and the
    // commit; a gateway that stalls answers none of them during the import.
    const late = middle.filter((p) => !p.answeredDuringImport).map((p) => p.index);
    expect(late.length, `late probes ${late.join(', ')} of ${middle[0]?.index}-${middle.at(-1)?.index}`).toBeLessThan(middle.length / 4);
  });

  it('the 10,000 members come a page at a time: 100 by default, at most 1000, each once, with a Link to the next page', async () => {
    const first = await admin.get(`/v1/teams/${team}/members`);
    const page = expectStatus(first, 200);
    expect(page).toHaveLength(100);
    expect(page[0]).toMatchObject({ team, autodeskId: `p00000.${tag}@example.com`, status: 'invited', products: ['autocad', 'revit'] });
    expect(page[0].invitation).toMatchObject({ id: expect.any(String), expiresAt: expect.any(String) });
    expect(first.text.length).toBeLessThan(64 * 1024);
    const last = page.at(-1).autodeskId;
    expect(first.headers.get('link')).toBe(`</v1/teams/${team}/members?after=${encodeURIComponent(last)}&limit=100>; rel="next"`);

    // The next page starts right after the last member of this one.
    const second = expectStatus(await admin.get(`/v1/teams/${team}/members?after=${encodeURIComponent(last)}`), 200);
    expect(second[0].autodeskId).toBe(`p00100.${tag}@example.com`);

    // Following the links with the largest pages: every member once, in order; no link after the last.
    const ids = (await allMembers(admin, team, 1000)).map((m) => m.autodeskId);
    expect(ids).toHaveLength(ROWS);
    expect(new Set(ids).size).toBe(ROWS);
    expect(ids).toEqual([...ids].sort());
    const end = await admin.get(`/v1/teams/${team}/members?after=${encodeURIComponent(ids.at(-1))}`);
    expect(expectStatus(end, 200)).toEqual([]);
    expect(end.headers.get('link')).toBeNull();
    const exact = await admin.get(`/v1/teams/${team}/members?after=${encodeURIComponent(ids.at(-3))}&limit=2`);
    expect(expectStatus(exact, 200)).toHaveLength(2);
    expect(exact.headers.get('link')).toBeNull();
  });

  it('a bad limit or cursor is a 400 problem naming the parameter', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=2.5', 'after=not-an-email', `after=${'x'.repeat(300)}@example.com`]) {
      const r = await admin.get(`/v1/teams/${team}/members?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body.code).toBe('invalid-request');
      expect(r.body.errors.map((e: { path: string }) => e.path).join(' '), query).toMatch(query.split('=')[0] as string);
    }
  });

  it("the console's members page shows 100 of them, the team's counts, and a link to the next page", async () => {
    const key = admin.token as string;
    const form = await fetch(`${gw.url}/console/signin`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const signinCookie = (form.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const signed = await fetch(`${gw.url}/console/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: signinCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, key }).toString(),
    });
    expect(signed.status).toBe(303);
    const cookie = (signed.headers.getSetCookie().find((c) => c.startsWith('fg_console=')) ?? '').split(';')[0] as string;
    const page = async (query: string) => {
      const r = await fetch(`${gw.url}/console/teams/${team}/members${query}`, { headers: { cookie } });
      expect(r.status).toBe(200);
      return r.text();
    };
    const html = await page('');
    expect(html.match(/<tr data-member=/g)).toHaveLength(100);
    expect(html).toContain(`${ROWS} members: 0 active, ${ROWS} invited`);
    const next = /<a href="([^"]+)" rel="next">/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBe(`/console/teams/${team}/members?after=${encodeURIComponent(`p00099.${tag}@example.com`)}`);
    const second = await page(next?.slice(`/console/teams/${team}/members`.length) ?? '');
    expect(second).toContain(`data-member="p00100.${tag}@example.com"`);
    expect(second).not.toContain(`data-member="p00099.${tag}@example.com"`);
  });
});
