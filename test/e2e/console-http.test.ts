/**
 * The console's HTTP edges over real HTTP, on both engines: what its cookies say behind a TLS proxy,
 * the sign-in form's own CSRF check, what a page takes from its query string (notices, audit
 * filters, the team it keeps), how its assets are cached, how large a form may be, and the
 * invitation page's passwords. The pages' looks are the browser tests'.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { allMembers, newAdmin, tokenOf, uniqueEmail } from '../harness/admin';
import { between, type ConsoleBrowser, consoleSignIn, unescapeHtml } from '../harness/console';
import type { TestGateway } from '../harness/gateway';
import { Api, expectStatus, simultaneously } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
const unique = () => randomBytes(4).toString('hex');
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

/** A team the test names, so that a page can be searched for its name. */
async function namedTeam(name: string): Promise<string> {
  return expectStatus(await gw.op.post('/v1/teams', { name }), 201).id;
}

/** An admin of two teams (A with tokens, C), a team it does not manage, and its console. */
async function setup(): Promise<{ a: string; c: string; other: string; key: string; browser: ConsoleBrowser }> {
  const [a, c, other] = [await team(100), await namedTeam(`Studio C ${unique()}`), await namedTeam(`Rival ${unique()}`)];
  const admin = await newAdmin(gw, [a, c]);
  const key = admin.api.token as string;
  return { a, c, other, key, browser: await consoleSignIn(gw, key) };
}
const cookieNamed = (r: Response, name: string) => r.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const csrfOf = (html: string) => /name="_csrf" value="([^"]*)"/.exec(html)?.[1] ?? '';
const banner = (html: string) => /<p class="banner ok" role="status">([^<]*)<\/p>/.exec(html)?.[1] ?? null;

/** The sign-in form as a browser first gets it: its cookie and the token of its hidden field. */
async function signInForm(headers: Record<string, string> = {}) {
  const r = await fetch(`${gw.url}/console/signin`, { headers });
  return { cookie: cookieNamed(r, 'fg_console_signin') ?? '', csrf: csrfOf(await r.text()) };
}

const postSignIn = (fields: Record<string, string>, headers: Record<string, string>) =>
  fetch(`${gw.url}/console/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });

describe('console cookies and sign-in', () => {
  it('marks its cookies Secure behind an HTTPS proxy (X-Forwarded-Proto), and not on plain HTTP, where a browser would drop them', async () => {
    const { key } = await setup();
    const plain = await signInForm();
    expect(plain.cookie).toMatch(/HttpOnly/);
    expect(plain.cookie).not.toMatch(/Secure/);
    const proxied = await signInForm({ 'x-forwarded-proto': 'https' });
    expect(proxied.cookie).toMatch(/; Secure/);

    const signedIn = await postSignIn(
      { _csrf: proxied.csrf, key },
      { cookie: proxied.cookie.split(';')[0] as string, 'x-forwarded-proto': 'https' },
    );
    expect(signedIn.status).toBe(303);
    expect(cookieNamed(signedIn, 'fg_console')).toMatch(/; Secure/);
    expect(cookieNamed(signedIn, 'fg_console')).toMatch(/SameSite=Strict/);
  });

  it('refuses a sign-in posted without its form (no cookie, or a token that is not the cookie’s): no session, even with a valid key', async () => {
    const { key } = await setup();
    const form = await signInForm();
    const cookie = form.cookie.split(';')[0] as string;
    for (const [what, fields, headers] of [
      ['no sign-in cookie', { _csrf: form.csrf, key }, {}],
      ['another token', { _csrf: 'x'.repeat(32), key }, { cookie }],
      ['no token', { key }, { cookie }],
    ] as const) {
      const r = await postSignIn(fields, headers);
      expect(r.status, what).toBe(403);
      expect(await r.text(), what).toContain('The sign-in form expired');
      expect(cookieNamed(r, 'fg_console'), what).toBeUndefined();
    }
    const r = await postSignIn({ _csrf: form.csrf, key }, { cookie });
    expect(r.status).toBe(303);
    expect(cookieNamed(r, 'fg_console')).toBeDefined();
  });
});

describe('what a console page takes from its query string', () => {
  it('names a member in a notice only by an e-mail address; any other text is "the member"', async () => {
    const { a, browser } = await setup();
    const phishing = encodeURIComponent('Call +1 555 0100 to restore your access:');
    const forged = await browser.get(`/console/teams/${a}/members?done=removed&who=${phishing}`);
    expect(banner(forged.html)).toBe('the member was removed from the team.');
    expect(forged.html).not.toContain('555 0100');
    const real = await browser.get(`/console/teams/${a}/members?done=removed&who=${encodeURIComponent('ada@example.com')}`);
    expect(banner(real.html)).toBe('ada@example.com was removed from the team.');
  });

  it('says tokens moved only to a team the admin manages, by its name', async () => {
    const { a, c, other, browser } = await setup();
    const moved = await browser.get(`/console/teams/${a}/tokens?done=moved&tokens=5&to=${c}`);
    expect(banner(moved.html)).toMatch(/^5 tokens moved to Studio C \S+\.$/);
    const elsewhere = await browser.get(`/console/teams/${a}/tokens?done=moved&tokens=5&to=${other}`);
    expect(banner(elsewhere.html)).toBeNull();
    expect(elsewhere.html).not.toContain('Rival');
    const bought = await browser.get(`/console/teams/${a}/tokens?done=bought&tokens=1200&expires=2027-03-15`);
    expect(banner(bought.html)).toBe('1,200 tokens bought; they expire on 15 Mar 2027.');
  });
});

describe('console assets and forms', () => {
  it('lets a browser keep an asset for good only at the URL that names its content', async () => {
    const page = await fetch(`${gw.url}/console/signin`);
    const href = /href="(\/console\/assets\/app\.css\?v=[0-9a-f]+)"/.exec(await page.text())?.[1];
    expect(href).toBeDefined();
    const named = await fetch(`${gw.url}${href}`);
    expect(named.status).toBe(200);
    expect(named.headers.get('content-type')).toMatch(/^text\/css/);
    expect(named.headers.get('cache-control')).toMatch(/immutable/);
    for (const stale of ['/console/assets/app.css', '/console/assets/app.css?v=000000000000']) {
      const r = await fetch(`${gw.url}${stale}`);
      expect(r.status, stale).toBe(200);
      expect(r.headers.get('cache-control'), stale).toBe('no-cache');
    }
  });

  it('refuses a form over 64 KiB with 413 and changes nothing; only the CSV import takes a larger file', async () => {
    const { a, browser } = await setup();
    const padded = await browser.post(`/console/teams/${a}/defaults`, { product: 'autocad', note: 'x'.repeat(70 * 1024) });
    expect(padded.status).toBe(413);
    expect(padded.html).toContain('larger than the console accepts');
    expect(expectStatus(await gw.op.get(`/v1/teams/${a}/defaults`), 200).products).toEqual([]);

    // 1,200 people, about 80 KiB: over a form's limit, well under the import's.
    const rows = Array.from({ length: 1200 }, (_, i) => `Person number ${i} of the spring intake,p${i}.${a.slice(0, 8)}@example.com`);
    const csv = `name,email\n${rows.join('\n')}`;
    expect(csv.length).toBeGreaterThan(70 * 1024);
    const imported = await browser.upload(`/console/teams/${a}/members/import`, {
      file: new File([csv], 'members.csv', { type: 'text/csv' }),
    });
    expect(imported.status).toBe(200);
    expect(await allMembers(gw.op, a)).toHaveLength(1200);

    // 1,200 members are pages of 100: the first links only onwards, the next one back to the first too.
    const first = await browser.get(`/console/teams/${a}/members`);
    const next = /href="([^"]+\?after=[^"]+)" rel="next"/.exec(first.html)?.[1];
    expect(next).toBeDefined();
    expect(first.html).not.toContain('First page');
    const second = await browser.get(unescapeHtml(next as string));
    expect(second.html).toContain('First page');
    expect(second.html).toMatch(/rel="next"/);
  });

  it('asks for a file when the import form comes without one, or with an empty one', async () => {
    const { a, browser } = await setup();
    for (const [what, file] of [
      ['a text field', 'name,email\nAda,ada@example.com'],
      ['an empty file', new File([], 'members.csv', { type: 'text/csv' })],
    ] as const) {
      const r = await browser.upload(`/console/teams/${a}/members/import`, { file });
      expect(r.status, what).toBe(400);
      expect(r.html, what).toContain('Choose a CSV file to import.');
    }
    expect(await allMembers(gw.op, a)).toEqual([]);
  });
});

describe("the console's frame: tabs and the team switcher", () => {
  it('marks the tab of the page shown, and only it; the switcher shows the team of the page; an admin without a team has no switcher', async () => {
    const { a, c, browser } = await setup();
    const active = (html: string) =>
      [...html.matchAll(/<a href="[^"]*" class="tab active" aria-current="page">(.*?)<\/a>/g)].map((m) =>
        (m[1] ?? '').replace(/<span class="narrow-only">.*?<\/span>/, '').replace(/<[^>]+>/g, ''),
      );
    const switched = (html: string) =>
      [...between(html, '<select id="team-switch"', '</select>').matchAll(/<option value="([^"]+)" selected="">/g)].map((m) => m[1]);
    for (const [path, tab] of [
      ['', 'Overview'],
      ['/members', 'Members'],
      ['/defaults', 'Defaults'],
      ['/usage', 'Usage'],
      ['/tokens', 'Tokens'],
      ['/tokens/buy', 'Tokens'],
      ['/ledger', 'Tokens'],
      ['/spend', 'Spend'],
      ['/advice', 'Advice'],
      ['/audit', 'Audit'],
    ] as const) {
      for (const t of [a, c]) {
        const page = await browser.get(`/console/teams/${t}${path}`);
        expect(page.status, path).toBe(200);
        expect(active(page.html), path).toEqual([tab]);
        expect(switched(page.html), path).toEqual([t]);
      }
    }
    const inspector = (await browser.get(`/console/inspect?team=${c}`)).html;
    expect(active(inspector)).toEqual(['Entitlement inspector']);
    expect(switched(inspector)).toEqual([c]);

    // A page of a team the admin does not manage, and a page that does not exist, say which in their heading.
    const heading = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];
    const theirs = await browser.get(`/console/teams/${(await setup()).a}/usage`);
    expect([theirs.status, heading(theirs.html)]).toEqual([403, 'Not allowed']);
    const nowhere = await browser.get(`/console/teams/${a}/nothing-here`);
    expect([nowhere.status, heading(nowhere.html)]).toEqual([404, 'Not found']);

    const lonely = await consoleSignIn(gw, (await newAdmin(gw, [])).api.token as string);
    const home = await lonely.get('/console/inspect');
    expect(home.status).toBe(200);
    expect(home.html).not.toContain('class="switcher"');
    expect(active(home.html)).toEqual(['Entitlement inspector']);
  });
});

describe('the usage page: a custom range from its query string', () => {
  it('a day that is not one is replaced, and the page says so; a valid range says nothing', async () => {
    const { a, browser } = await setup();
    const bad = await browser.get(`/console/teams/${a}/usage?from=2026-02-30&to=2026-07-01&by=product`);
    expect(bad.status).toBe(200);
    expect(unescapeHtml(bad.html)).toContain('Ignored a date that is not valid: from 2026-02-30.');
    const both = await browser.get(`/console/teams/${a}/usage?from=yesterday&to=2026-13-01`);
    expect(unescapeHtml(both.html)).toContain('Ignored a date that is not valid: from yesterday, to 2026-13-01.');
    const good = await browser.get(`/console/teams/${a}/usage?from=2026-02-01&to=2026-02-28&by=product`);
    expect(good.status).toBe(200);
    expect(good.html).not.toContain('Ignored a date');
  });
});

describe('the audit page: filters from its query string', () => {
  const actions = (html: string) => [...html.matchAll(/<tr data-action="([^"]+)"/g)].map((m) => m[1]);
  const ignored = (html: string) => /Ignored a filter that is not valid: ([a-z, ]*)\./.exec(html)?.[1] ?? null;

  it('pages 100 entries at a time, newest first: "Older entries" to the rest, "Newest entries" back, the filter kept', async () => {
    // team.created, the first lot's purchase, the admin, then 104 purchases: 107 entries, 105 of them purchases.
    const { a, browser } = await setup();
    for (let i = 0; i < 104; i++) expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 1 }), 201);
    const link = (html: string, label: string) => {
      const m = new RegExp(`<a href="([^"]+)">${label}</a>`).exec(html);
      return m ? unescapeHtml(m[1] ?? '') : null;
    };
    const first = await browser.get(`/console/teams/${a}/audit`);
    expect(actions(first.html)).toHaveLength(100);
    expect(link(first.html, 'Newest entries')).toBeNull();
    const older = link(first.html, 'Older entries');
    expect(older).toMatch(new RegExp(`^/console/teams/${a}/audit\\?before=\\d+$`));
    const second = await browser.get(older as string);
    expect(actions(second.html)).toEqual([...Array(4).fill('tokens.purchased'), 'admin.created', 'tokens.purchased', 'team.created']);
    expect(link(second.html, 'Older entries')).toBeNull();
    expect(link(second.html, 'Newest entries')).toBe(`/console/teams/${a}/audit`);

    // Filtered: the 105 purchases, 100 then 5, and both links keep the filter.
    const bought = await browser.get(`/console/teams/${a}/audit?action=tokens.purchased`);
    expect(actions(bought.html)).toHaveLength(100);
    const rest = await browser.get(link(bought.html, 'Older entries') as string);
    expect(actions(rest.html)).toEqual(Array(5).fill('tokens.purchased'));
    expect(link(rest.html, 'Newest entries')).toBe(`/console/teams/${a}/audit?action=tokens.purchased`);
    expect(link(bought.html, 'Older entries')).toMatch(/\?action=tokens\.purchased&before=\d+$/);
  });

  it('applies every filter that parses (a day for from and to), and names the ones it ignored', async () => {
    // The operator made A, bought its first lot and made the admin, who buys one and sets the defaults.
    const { a, browser, key } = await setup();
    expect((await browser.post(`/console/teams/${a}/tokens/buy`, { tokens: '5', purchasedOn: '', step: 'confirm' })).status).toBe(303);
    expect((await browser.post(`/console/teams/${a}/defaults`, { product: 'autocad' })).status).toBe(303);
    const page = (query: string) => browser.get(`/console/teams/${a}/audit${query}`);

    const all = await page('');
    expect(ignored(all.html)).toBeNull();
    expect(actions(all.html)).toEqual(['defaults.changed', 'tokens.purchased', 'admin.created', 'tokens.purchased', 'team.created']);
    expect(all.html).not.toContain('Newest entries');

    const bought = await page('?action=tokens.purchased');
    expect(ignored(bought.html)).toBeNull();
    expect(actions(bought.html)).toEqual(['tokens.purchased', 'tokens.purchased']);
    const byOperator = await page('?actor=operator');
    expect(ignored(byOperator.html)).toBeNull();
    expect(actions(byOperator.html)).toEqual(['admin.created', 'tokens.purchased', 'team.created']);
    const today = await page('?from=2026-03-15&to=2026-03-15&action=defaults.*');
    expect(ignored(today.html)).toBeNull();
    expect(actions(today.html)).toEqual(['defaults.changed']);
    expect(actions((await page('?to=2026-03-14')).html)).toEqual([]);

    // An instant, a broken day or a bad actor is dropped and said; the other filters still apply.
    for (const [query, named] of [
      ['?from=2026-03-15T00:00:00Z&action=tokens.purchased', 'from'],
      ['?to=2026-02-30&action=tokens.purchased', 'to'],
      ['?actor=root&action=tokens.purchased', 'actor'],
    ] as const) {
      const html = (await page(query)).html;
      expect(ignored(html), query).toBe(named);
      expect(actions(html), query).toEqual(['tokens.purchased', 'tokens.purchased']);
    }
    // A cursor that is not an entry's id is the first page.
    expect((await page('?before=0')).html).not.toContain('Newest entries');

    // Each row says who in words and what changed; the form and its CSV link keep the filter.
    const row = (html: string, action: string) =>
      /<tr data-action="[^"]+">[\s\S]*?<\/tr>/g.exec(html.slice(html.indexOf(`<tr data-action="${action}"`)))?.[0] ?? '';
    const defaults = row(all.html, 'defaults.changed');
    expect(defaults).toMatch(/>Admin [0-9a-f]{8} \(console\)<\/a><\/td>/);
    expect(defaults).toContain('Before: products: (none)');
    expect(defaults).toContain('After: products: autocad');
    expect(row(all.html, 'team.created')).toContain('>Platform operator</a></td>');
    // Who is a link to everything that actor did: an admin, with its key and in the console both
    // (an admin's review found no way to ask for that: the page showed names, the filter wanted ids).
    expectStatus(await new Api(gw.url, key).post(`/v1/teams/${a}/purchases`, { tokens: 3 }), 201);
    const adminId = /actor=(adm_[A-Za-z0-9_-]+)/.exec(defaults)?.[1] as string;
    expect(adminId).toBeDefined();
    const everything = await page(`?actor=${adminId}`);
    expect(ignored(everything.html)).toBeNull();
    expect(actions(everything.html)).toEqual(['tokens.purchased', 'defaults.changed', 'tokens.purchased']);
    expect(everything.html).toMatch(/\(API key\)<\/a><\/td>/);
    expect(everything.html).toMatch(/\(console\)<\/a><\/td>/);
    expect(expectStatus(await gw.op.get(`/v1/teams/${a}/audit?actor=${adminId}`), 200)).toHaveLength(3);
    expect(all.html).toContain(`href="/console/teams/${a}/audit.csv" download`);
    expect(all.html).toContain('<option value="" selected="">');
    expect(bought.html).toContain('<option value="tokens.purchased" selected="">');
    expect(bought.html).toContain(`href="/console/teams/${a}/audit.csv?action=tokens.purchased" download`);
  });
});

describe('the invitation page (R11)', () => {
  /** A person invited to A, and the page their e-mail links to, as their browser holds it. */
  async function invited() {
    const a = await team();
    const admin = await newAdmin(gw, [a]);
    const email = uniqueEmail('newcomer');
    expectStatus(await admin.api.post(`/v1/teams/${a}/members`, { invite: `New Comer <${email}>` }), 201);
    const [mail] = expectStatus(await gw.op.get(`/v1/outbox?to=${encodeURIComponent(email)}`), 200);
    const token = tokenOf(mail.text);
    const page = await fetch(`${gw.url}/console/invitations/accept?token=${encodeURIComponent(token)}`);
    const cookie = (cookieNamed(page, 'fg_console_invite') ?? '').split(';')[0] as string;
    const csrf = csrfOf(await page.text());
    const accept = async (password: string, repeat = password) => {
      const r = await fetch(`${gw.url}/console/invitations/accept`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, token, answer: 'accept', password, repeat }).toString(),
      });
      return { status: r.status, html: await r.text() };
    };
    return { email, accept };
  }

  it('takes a new password of 8 to 1,024 characters, as the API does, and nothing else', async () => {
    const short = await invited();
    for (const [password, repeat, message] of [
      ['seven77', 'seven77', 'A password has 8 to 1024 characters.'],
      ['x'.repeat(1025), 'x'.repeat(1025), 'A password has 8 to 1024 characters.'],
      ['eight888', 'eight889', 'The two passwords differ.'],
    ] as const) {
      const r = await short.accept(password, repeat);
      expect(r.status, `${password.length} characters`).toBe(400);
      expect(r.html, `${password.length} characters`).toContain(message);
    }
    expect((await short.accept('eight888')).html).toContain('You joined');
    expect((await gw.anon.post('/v1/signin', { autodeskId: short.email, password: 'eight888' })).status).toBe(200);

    const long = await invited();
    expect((await long.accept('y'.repeat(1024))).html).toContain('You joined');
    expect((await gw.anon.post('/v1/signin', { autodeskId: long.email, password: 'y'.repeat(1024) })).status).toBe(200);
  });
});

describe('console navigation', () => {
  it('sends a visitor without a session to the sign-in page, and says a session ended only to a form posted after it', async () => {
    const { a } = await setup();
    const visit = await fetch(`${gw.url}/console/teams/${a}/members`, { redirect: 'manual' });
    expect(visit.status).toBe(303);
    // Signing in then opens the page asked for.
    expect(visit.headers.get('location')).toBe(`/console/signin?${new URLSearchParams({ next: `/console/teams/${a}/members` })}`);
    const late = await fetch(`${gw.url}/console/teams/${a}/defaults`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'product=autocad',
    });
    expect(late.status).toBe(303);
    expect(late.headers.get('location')).toBe('/console/signin?expired=1');
  });

  it("lists the admin's teams by name in its switcher, whatever their ids", async () => {
    // Zeta made first, then an Alpha whose id sorts after Zeta's: by id the order would be Zeta, Alpha.
    const zeta = await namedTeam(`Zeta ${unique()}`);
    let alpha = await namedTeam(`Alpha ${unique()}`);
    while (alpha.localeCompare(zeta) < 0) alpha = await namedTeam(`Alpha ${unique()}`);
    const browser = await consoleSignIn(gw, (await newAdmin(gw, [zeta, alpha])).api.token as string);
    const page = await browser.get('/console/inspect');
    const offered = [...page.html.matchAll(/<option value="(tm_[^"]+)"/g)].map((m) => m[1]);
    expect(offered).toEqual([alpha, zeta]);
  });

  it("switches only to the admin's own teams, and the inspector keeps the team it was opened from", async () => {
    const { a, c, other, browser } = await setup();
    for (const mine of [a, c]) {
      const to = await browser.get(`/console/switch?team=${mine}`);
      expect(to.status).toBe(303);
      expect(to.location).toBe(`/console/teams/${mine}`);
    }
    expect((await browser.get(`/console/switch?team=${other}`)).status).toBe(403);

    // The admin's teams by name: Studio C first, so it is where an unknown team falls back to.
    expect((await browser.get(`/console/inspect?team=${a}`)).html).toContain(`action="/console/inspect?team=${a}"`);
    expect((await browser.get(`/console/inspect?team=${c}`)).html).toContain(`action="/console/inspect?team=${c}"`);
    expect((await browser.get(`/console/inspect?team=${other}`)).html).toContain(`action="/console/inspect?team=${c}"`);
  });
});

describe('console sign-in racing its key', () => {
  /** The session cookie a sign-in answer sets, if it opened one. */
  const sessionCookie = (answer: { headers: { get(name: string): string | null } }) => {
    const set = answer.headers.get('set-cookie') as string | string[] | null;
    return ([set ?? []].flat().find((c) => c.startsWith('fg_console=')) ?? '').split(';')[0] ?? '';
  };

  it('a sign-in sent with its key rotated, revoked or its admin removed never leaves a session that outlives the key', async () => {
    for (let round = 0; round < 12; round++) {
      for (const change of ['rotate', 'revoke', 'remove'] as const) {
        const admin = await newAdmin(gw, [await team()]);
        const form = await signInForm();
        const signInRequest = {
          api: gw.anon,
          method: 'POST',
          path: '/console/signin',
          body: new URLSearchParams({ _csrf: form.csrf, key: admin.api.token as string }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie.split(';')[0] as string },
        };
        const changeRequest =
          change === 'rotate'
            ? { api: gw.op, method: 'POST', path: `/v1/admins/${admin.id}/key` }
            : { api: gw.op, method: 'DELETE', path: change === 'revoke' ? `/v1/admins/${admin.id}/key` : `/v1/admins/${admin.id}` };
        // Either one written first, so that each engine meets both orders.
        const [signIn, changed] =
          round % 2 === 0
            ? await simultaneously([signInRequest, changeRequest])
            : (await simultaneously([changeRequest, signInRequest])).reverse();
        expect(changed?.status, `${change}: ${changed?.text}`).toBe(change === 'rotate' ? 200 : 204);
        // Signed in before the change (then ended by it) or refused after it; never a server error.
        expect([303, 401], `${change}: sign-in ${signIn?.status} ${signIn?.text.slice(0, 200)}`).toContain(signIn?.status);
        if (signIn?.status !== 303) continue;
        const cookie = sessionCookie(signIn);
        expect(cookie).not.toBe('');
        const page = await fetch(`${gw.url}/console`, { headers: { cookie }, redirect: 'manual' });
        expect(page.headers.get('location'), `${change}: the session opened with the old key`).toBe('/console/signin');
      }
    }
  });
});
