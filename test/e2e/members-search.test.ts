/**
 * Finding a member by part of a name or e-mail (`GET /v1/teams/:team/members?q=`, the console's
 * search box), over real HTTP, on both engines: any case, one Unicode rule on both, `%`, `_` and
 * `\` typed as themselves, this team's members only, paged, and a bad `q` refused.
 */
import { describe, expect, it } from 'vitest';
import { newAdmin, postCsv } from '../harness/admin';
import { consoleSignIn, leadOf, unescapeHtml } from '../harness/console';
import type { TestGateway } from '../harness/gateway';
import { type Answer, type Api, expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});
// Digits only: no letter of a search below can match it by chance.
const tag = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
const id = (local: string) => `${local}.${tag}@example.com`;

/** Team A's members by name, and Team B's one member, whose name and e-mail team A's would match. */
const A = {
  'Ana Pérez': id('ana.perez'),
  'Élodie Martin': id('em'),
  'ΣΊΣΥΦΟΣ Greek': id('sis'),
  // Decomposed (e + U+0301), as some files write it: found by the composed "é" typed.
  'Chloe\u0301 Nfd': id('cn'),
  'Bob 100% Sure': id('bob'),
  'Eve 1000 Lane': id('eve'),
  'Carl Under': id('carl_u'),
  'Carla Other': id('carlxu'),
  'Dee Back\\slash': id('dee'),
};
const B = { 'Ana Outsider': id('ana.outsider') };

function csv(people: Record<string, string>): string {
  return `name,email,products,guest\n${Object.entries(people)
    .map(([name, email]) => `${name},${email},,`)
    .join('\n')}\n`;
}

let made: Promise<{ a: string; b: string; admin: Api; other: Api }> | undefined;
/** Both teams and their admins, made once for the file (the tests only read them). */
function teams() {
  made ??= (async () => {
    const [a, b] = [await team(), await team()];
    const [admin, other] = [(await newAdmin(gw, [a])).api, (await newAdmin(gw, [b])).api];
    expect(expectStatus(await postCsv(admin, `/v1/teams/${a}/members/import`, csv(A)), 200).errors).toEqual([]);
    expect(expectStatus(await postCsv(other, `/v1/teams/${b}/members/import`, csv(B)), 200).errors).toEqual([]);
    return { a, b, admin, other };
  })();
  return made;
}

/** The Autodesk IDs `q` finds, in the order answered. */
async function found(api: Api, teamId: string, q: string): Promise<string[]> {
  const r = expectStatus(await api.get<any[]>(`/v1/teams/${teamId}/members?q=${encodeURIComponent(q)}`), 200);
  return r.map((m) => m.autodeskId);
}

describe("searching a team's members (GET /v1/teams/:team/members?q=)", () => {
  it('finds by part of a name or of an e-mail, in any case', async () => {
    const { a, admin } = await teams();
    expect(await found(admin, a, 'pérez')).toEqual([A['Ana Pérez']]);
    expect(await found(admin, a, 'PÉREZ')).toEqual([A['Ana Pérez']]);
    expect(await found(admin, a, '  ana p  ')).toEqual([A['Ana Pérez']]);
    expect(await found(admin, a, `PEREZ.${tag}@EXAMPLE`)).toEqual([A['Ana Pérez']]);
    expect(await found(admin, a, 'carl')).toEqual([A['Carl Under'], A['Carla Other']].sort());
    // Each member's whole answer, as the unfiltered list gives it.
    const all = expectStatus(await admin.get<any[]>(`/v1/teams/${a}/members`), 200);
    const hit = expectStatus(await admin.get<any[]>(`/v1/teams/${a}/members?q=bob`), 200);
    expect(hit).toEqual(all.filter((m) => m.autodeskId === A['Bob 100% Sure']));
    expect(await found(admin, a, 'nobody-is-called-this')).toEqual([]);
    // Blank: every member.
    expect(await found(admin, a, '   ')).toHaveLength(Object.keys(A).length);
  });

  it('one case rule on both engines: Unicode lower case then NFC, accents kept', async () => {
    const { a, admin } = await teams();
    expect(await found(admin, a, 'élodie')).toEqual([A['Élodie Martin']]);
    expect(await found(admin, a, 'ÉLODIE MARTIN')).toEqual([A['Élodie Martin']]);
    // The final sigma: PostgreSQL's lower() in a libc locale reads ΣΊΣΥΦΟΣ as σίσυφοσ.
    expect(await found(admin, a, 'σίσυφος')).toEqual([A['ΣΊΣΥΦΟΣ Greek']]);
    expect(await found(admin, a, 'chlo\u00e9')).toEqual([A['Chloe\u0301 Nfd']]);
    // Accents are not dropped.
    expect(await found(admin, a, 'elodie')).toEqual([]);
  });

  it('%, _ and \\ typed are matched as themselves, never as wildcards', async () => {
    const { a, admin } = await teams();
    // As a wildcard "0%" would also find Eve 1000, and "l_u" carlxu.
    expect(await found(admin, a, '0%')).toEqual([A['Bob 100% Sure']]);
    expect(await found(admin, a, '%')).toEqual([A['Bob 100% Sure']]);
    expect(await found(admin, a, 'l_u')).toEqual([A['Carl Under']]);
    expect(await found(admin, a, '_')).toEqual([A['Carl Under']]);
    expect(await found(admin, a, 'k\\s')).toEqual([A['Dee Back\\slash']]);
    expect(await found(admin, a, '\\')).toEqual([A['Dee Back\\slash']]);
    expect(await found(admin, a, '\\%')).toEqual([]);
  });

  it("finds only the team's own members: another team's never, whatever matches", async () => {
    const { a, b, admin, other } = await teams();
    expect(await found(admin, a, 'ana')).toEqual([A['Ana Pérez']]);
    expect(await found(admin, a, 'outsider')).toEqual([]);
    expect(await found(other, b, 'ana')).toEqual([B['Ana Outsider']]);
    expect(await found(gw.op, b, 'pérez')).toEqual([]);
    // Another team's list is refused whole, searched or not.
    expect((await admin.get(`/v1/teams/${b}/members?q=ana`)).status).toBe(403);
  });

  it('pages a search as the list: the Link header keeps q', async () => {
    const { a, admin } = await teams();
    const seen: string[] = [];
    let path: string | null = `/v1/teams/${a}/members?q=${encodeURIComponent('CARL')}&limit=1`;
    while (path) {
      const page: Answer<any[]> = await admin.get<any[]>(path);
      seen.push(...expectStatus(page, 200).map((m) => m.autodeskId));
      path = /^<([^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
      if (path) expect(path).toContain('q=CARL');
    }
    expect(seen).toEqual([A['Carl Under'], A['Carla Other']].sort());
  });

  it('a q too long or holding a control character is a 400 problem', async () => {
    const { a, admin } = await teams();
    expect((await admin.get(`/v1/teams/${a}/members?q=${'x'.repeat(200)}`)).status).toBe(200);
    for (const q of ['x'.repeat(201), 'ana\u0000', 'ana\nperez']) {
      const r = await admin.get(`/v1/teams/${a}/members?q=${encodeURIComponent(q)}`);
      expect([r.status, r.headers.get('content-type')], JSON.stringify(q)).toEqual([
        400,
        expect.stringContaining('application/problem+json'),
      ]);
      // A NUL is refused before any route (the gateway's guard); the others name the field.
      const problem = JSON.parse(r.text) as { code: string; errors?: { path: string }[] };
      expect(problem.code).toBe('invalid-request');
      if (!q.includes('\u0000')) expect(problem.errors?.map((e) => e.path)).toEqual(['q']);
    }
  });

  it('the console: the search box narrows the list, keeps the counts and pages with the search', async () => {
    const { a, admin } = await teams();
    const browser = await consoleSignIn(gw, admin.token as string);
    const all = await browser.get(`/console/teams/${a}/members`);
    const page = await browser.get(`/console/teams/${a}/members?q=${encodeURIComponent('PÉREZ')}`);
    expect(page.status).toBe(200);
    const rows = (html: string) => [...unescapeHtml(html).matchAll(/<tr data-member="([^"]+)">/g)].map((m) => m[1]);
    expect(rows(page.html)).toEqual([A['Ana Pérez']]);
    expect(leadOf(page.html)).toBe(leadOf(all.html));
    expect(unescapeHtml(page.html)).toContain('name="q" value="PÉREZ"');
    expect(rows((await browser.get(`/console/teams/${a}/members?q=l_u`)).html)).toEqual([A['Carl Under']]);
    expect(rows((await browser.get(`/console/teams/${a}/members?q=outsider`)).html)).toEqual([]);
    // A later page of a search: the search's members after the cursor, and a way back to its first page.
    const later = await browser.get(`/console/teams/${a}/members?q=carl&after=${encodeURIComponent(A['Carl Under'])}`);
    expect(rows(later.html)).toEqual([A['Carla Other']]);
    expect(unescapeHtml(later.html)).toContain(`<a href="/console/teams/${a}/members?q=carl">First page</a>`);
    // A search not valid is dropped and said: the whole list.
    const bad = await browser.get(`/console/teams/${a}/members?q=${'x'.repeat(201)}`);
    expect(rows(bad.html)).toEqual(rows(all.html));
    expect(bad.html).toContain('Ignored a search that is not valid');
  });
});
