/**
 * What the console's member pages say, over real HTTP, on both engines: the counts and statuses of
 * the members page (R11), each member's products and the team's defaults (R12, R13), an import's
 * result (R14), and a member's own page: the invitation, the access explained row by row (R18).
 * The pages' looks are the browser tests'.
 */
import { describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf } from '../harness/admin';
import { between, consoleSignIn, leadOf, textOf, unescapeHtml } from '../harness/console';
import { joinTeam, newAccount, setClock } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

/** A team of four: Ann (active, all products), Gus (active guest, no product), Ivy (invited
 * today, Revit) and Old (invited ten days ago: expired); its admin's console. */
async function fourMembers(tokens = 100) {
  const a = await team(tokens);
  const ann = await newAccount(gw, 'ann');
  const gus = await newAccount(gw, 'gus');
  await joinTeam(gw, a, ann, { allProducts: true });
  await joinTeam(gw, a, gus, { guest: true, products: [] });
  const ivy = `ivy.${a.slice(3, 11).toLowerCase()}@example.com`;
  const old = `old.${a.slice(3, 11).toLowerCase()}@example.com`;
  await setClock(gw, new Date(T0.getTime() - 10 * DAY));
  expectStatus(await gw.op.post(`/v1/teams/${a}/members`, { invite: `Old Timer <${old}>`, products: ['autocad'] }), 201);
  await setClock(gw, T0);
  expectStatus(await gw.op.post(`/v1/teams/${a}/members`, { invite: `Ivy Invitee <${ivy}>`, products: ['revit'] }), 201);
  const admin = await newAdmin(gw, [a]);
  const browser = await consoleSignIn(gw, admin.api.token as string);
  return { a, ann: ann.autodeskId, gus: gus.autodeskId, ivy, old, browser };
}

/** The members table, row by row: Autodesk ID, status and what is under it, guest, products, buttons. */
function memberRows(html: string) {
  return [...unescapeHtml(html).matchAll(/<tr data-member="([^"]+)">(.*?)<\/tr>/g)].map((m) => {
    const cells = [...(m[2] ?? '').matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1] ?? '');
    return {
      id: m[1],
      status: textOf(cells[1] ?? ''),
      guest: textOf(cells[2] ?? ''),
      products: textOf(cells[3] ?? ''),
      buttons: [...(cells[4] ?? '').matchAll(/<button[^>]*>([^<]*)<\/button>|<a class="btn[^"]*"[^>]*>([^<]*)<\/a>/g)].map((b) =>
        (b[1] ?? b[2] ?? '').trim(),
      ),
    };
  });
}

describe('console: the members page (R11-R14)', () => {
  it('R11: counts the members by status; each row says its status, until when an invitation runs, and offers a resend only while not accepted', async () => {
    const { a, ann, gus, ivy, old, browser } = await fourMembers();
    const html = (await browser.get(`/console/teams/${a}/members`)).html;
    expect(leadOf(html)).toBe('4 members: 2 active, 1 invited, 1 with an expired invitation.');
    const rows = memberRows(html);
    const row = (id: string) => rows.find((r) => r.id === id);
    expect(row(ann)).toEqual({ id: ann, status: 'active', guest: '', products: 'All products', buttons: ['Access', 'Remove'] });
    expect(row(gus)).toEqual({ id: gus, status: 'active', guest: 'guest', products: '—', buttons: ['Access', 'Remove'] });
    expect(row(ivy)).toEqual({
      id: ivy,
      status: 'invited until 22 Mar 2026',
      guest: '',
      products: 'Revit',
      buttons: ['Access', 'Resend', 'Remove'],
    });
    expect(row(old)).toEqual({
      id: old,
      status: 'invitation expired on 12 Mar 2026',
      guest: '',
      products: 'AutoCAD',
      buttons: ['Access', 'Resend', 'Remove'],
    });

    // One member, said in the singular; a team without any says how to start.
    const solo = await team();
    const soloAdmin = await newAdmin(gw, [solo, a]);
    const soloBrowser = await consoleSignIn(gw, soloAdmin.api.token as string);
    const none = (await soloBrowser.get(`/console/teams/${solo}/members`)).html;
    expect(leadOf(none)).toBe('0 members: 0 active, 0 invited, 0 with an expired invitation.');
    expect(none).toContain('No members yet: invite someone below.');
    expect(html).not.toContain('No members yet');
    expectStatus(
      await gw.op.post(`/v1/teams/${solo}/members`, { invite: `Una <una.${solo.slice(3, 11).toLowerCase()}@example.com>` }),
      201,
    );
    expect(leadOf((await soloBrowser.get(`/console/teams/${solo}/members`)).html)).toBe(
      '1 member: 0 active, 1 invited, 0 with an expired invitation.',
    );
  });

  it("R13: the lead names the team's default products when there are some, and says nothing of them when there are none", async () => {
    const { a, browser } = await fourMembers();
    expect(leadOf((await browser.get(`/console/teams/${a}/members`)).html)).not.toContain('default');
    expectStatus(await gw.op.put(`/v1/teams/${a}/defaults`, { products: ['revit', 'autocad'] }), 200);
    expect(leadOf((await browser.get(`/console/teams/${a}/members`)).html)).toMatch(
      /Non-guest members also get the team's default products \((AutoCAD, Revit|Revit, AutoCAD)\)\.$/,
    );
  });

  it('R13: the defaults page says defaults are off, or names the products every non-guest member gets', async () => {
    const { a, browser } = await fourMembers();
    const page = async () => leadOf((await browser.get(`/console/teams/${a}/defaults`)).html);
    expect(await page()).toBe('Defaults are off: members get only the products selected for them.');
    expectStatus(await gw.op.put(`/v1/teams/${a}/defaults`, { products: ['maya'] }), 200);
    expect(await page()).toMatch(/^Every non-guest member of .+ may use Maya on top of their own selection\.$/);
  });

  it('R12: the "All products" box is on the invite form and a member\'s page, checked as the member has it; not on the defaults page', async () => {
    const { a, ann, ivy, browser } = await fourMembers();
    const allBox = (html: string) => /<input type="checkbox" name="allProducts" value="1"( checked="")? data-all-products/.exec(html);
    const invite = allBox((await browser.get(`/console/teams/${a}/members`)).html);
    expect(invite).not.toBeNull();
    expect(invite?.[1]).toBeUndefined();
    expect(allBox((await browser.get(`/console/teams/${a}/members/${encodeURIComponent(ann)}`)).html)?.[1]).toBe(' checked=""');
    const ivyBox = allBox((await browser.get(`/console/teams/${a}/members/${encodeURIComponent(ivy)}`)).html);
    expect(ivyBox).not.toBeNull();
    expect(ivyBox?.[1]).toBeUndefined();
    expect(allBox((await browser.get(`/console/teams/${a}/defaults`)).html)).toBeNull();
  });

  it('R14: an import says how many members it added and updated, and lists each refused line; one of each in the singular', async () => {
    const { a, ann, browser } = await fourMembers();
    const upload = async (csv: string) => {
      const page = await browser.upload(`/console/teams/${a}/members/import`, {
        file: new File([csv], 'members.csv', { type: 'text/csv' }),
      });
      expect(page.status).toBe(200);
      const html = unescapeHtml(page.html);
      const section = between(html, '<section class="panel import-result"', '</section>');
      return {
        said: /<p>(.*?)<\/p>/s.exec(section)?.[1]?.replace(/\s+/g, ' ').trim(),
        // The table of refused lines is there only when some line was refused.
        lines: section.includes('<table class="errors">')
          ? [...section.matchAll(/<tr><td class="num">(\d+)<\/td><td>/g)].map((m) => Number(m[1]))
          : null,
      };
    };
    const tag = a.slice(3, 11).toLowerCase();
    expect(await upload(`name,email\nPia,pia.${tag}@example.com\n`)).toEqual({
      said: '1 member added, 0 updated, no errors.',
      lines: null,
    });
    expect(
      await upload(
        `name,email,products\nAnn,${ann},autocad\nQuinn,quinn.${tag}@example.com,\nRae,rae.${tag}@example.com,\nBad,not-an-email,\nSam,sam.${tag}@example.com,photoshop\n`,
      ),
    ).toEqual({ said: '2 members added, 1 updated, 2 lines refused:', lines: [5, 6] });
    expect(await upload(`name,email\nZed,zed-at-nowhere\n`)).toEqual({ said: '0 members added, 0 updated, 1 line refused:', lines: [2] });
  });
});

describe('console: sending the invitations of an import (R11, R14)', () => {
  const panel = (html: string) => textOf(between(html, '<section class="panel send-invitations"', '</section>'));
  const notice = (html: string) => textOf(between(html, '<p class="banner ok" role="status">', '</p>'));
  const idemOf = (html: string) =>
    /name="idem" value="([^"]+)"/.exec(between(html, '<section class="panel send-invitations"', '</section>'))?.[1];

  it('offers to send the invitations never e-mailed, sends them once however often the form is posted, and says so', async () => {
    const { a, ivy, browser } = await fourMembers();
    const tag = a.slice(3, 11).toLowerCase();
    const people = [`pia.${tag}@example.com`, `quinn.${tag}@example.com`];
    expectStatus(
      await gw.op.request('POST', `/v1/teams/${a}/members/import`, `name,email\nPia,${people[0]}\nQuinn,${people[1]}\n`, {
        'content-type': 'text/csv',
      }),
      200,
    );
    const page = (await browser.get(`/console/teams/${a}/members`)).html;
    expect(panel(page)).toBe(
      'Invitations not sent yet 2 invited people have not been e-mailed their invitation: an import adds people without e-mailing them. They can join the team only by accepting it. Send invitations to 2 people Each gets an e-mail with a link valid for 7 days. Nobody gets more than 3 invitation e-mails a day, whichever teams send them.',
    );
    const rows = memberRows(page);
    expect(rows.find((r) => r.id === people[0])?.status).toBe('invited not e-mailed yet');
    expect(rows.find((r) => r.id === ivy)?.status).toBe('invited until 22 Mar 2026');

    // A form without the session's CSRF token sends nothing.
    const idem = idemOf(page) as string;
    expect(idem).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    expect((await browser.post(`/console/teams/${a}/invitations/send`, { _csrf: 'x'.repeat(32), idem })).status).toBe(403);
    for (const p of people) expect(await mailsTo(gw, p)).toEqual([]);

    const sent = await browser.post(`/console/teams/${a}/invitations/send`, { idem });
    expect([sent.status, sent.location]).toEqual([303, `/console/teams/${a}/members?done=sent&sent=2&volume=0&capped=0`]);
    const after = (await browser.get(sent.location as string)).html;
    expect(notice(after)).toBe('Invitations sent to 2 people; each is valid for 7 days.');
    expect(panel(after)).toBe('');
    expect(memberRows(after).find((r) => r.id === people[0])?.status).toBe('invited until 22 Mar 2026');
    // The same form again (a double click, a reload): the first answer, nothing more sent.
    expect((await browser.post(`/console/teams/${a}/invitations/send`, { idem })).location).toBe(sent.location);
    // Another form: nobody is left.
    const again = await browser.post(`/console/teams/${a}/invitations/send`, { idem: 'another-form-key-0123' });
    expect(notice((await browser.get(again.location as string)).html)).toBe(
      'Nobody was waiting for an invitation e-mail: every pending member has been sent one.',
    );
    for (const p of people) expect((await mailsTo(gw, p)).filter((m) => m.kind === 'invitation')).toHaveLength(1);
    const trail = expectStatus(await gw.op.get(`/v1/teams/${a}/audit?action=invitations.sent`), 200);
    expect(trail.map((e: any) => [e.actor.split(':')[0], e.after.sent])).toEqual([['console', 2]]);

    // A team the admin does not manage: the 403 page, nothing sent there.
    const theirs = await team();
    const stranger = `stranger.${tag}@example.com`;
    expectStatus(
      await gw.op.request('POST', `/v1/teams/${theirs}/members/import`, `name,email\nStranger,${stranger}\n`, {
        'content-type': 'text/csv',
      }),
      200,
    );
    expect((await browser.post(`/console/teams/${theirs}/invitations/send`, { idem: 'third-form-key-012345' })).status).toBe(403);
    expect(await mailsTo(gw, stranger)).toEqual([]);
  });

  it('says in words what waits and until when: the hourly limit, the daily cap per person', async () => {
    const { a, browser } = await fourMembers();
    const said = async (q: string) => notice((await browser.get(`/console/teams/${a}/members?done=sent&${q}`)).html);
    expect(await said('sent=1000&volume=9000&capped=0&next=2026-03-15T11:00:00.000Z')).toBe(
      'Invitations sent to 1,000 people; each is valid for 7 days. 9,000 people still wait: the invitation e-mails you or this team may send this hour are used up. Send again from Sunday 15 March 2026 at 11:00 UTC for the rest.',
    );
    expect(await said('sent=0&volume=0&capped=1&next=2026-03-16T09:50:00.000Z')).toBe(
      'No invitation was sent. 1 person already had 3 invitation e-mails in the last 24 hours (from any team) and is not sent another yet. Send again from Monday 16 March 2026 at 09:50 UTC for the rest.',
    );
    // Figures not of their shape: no notice at all.
    expect(await said('sent=<b>&volume=0&capped=0')).toBe('');
  });
});

describe("console: a member's page (R11, R13, R18)", () => {
  const access = (html: string) =>
    [...unescapeHtml(html).matchAll(/<tr data-product="([^"]+)" class="(granted|refused)">(.*?)<\/tr>/g)].map((m) => {
      const source = /<td class="inline">(?!<span class="badge)(.*?)<\/td>/.exec(m[3] ?? '')?.[1] ?? '';
      return [m[1], m[2], source.replace(/<[^>]+>/g, '')];
    });

  it('R11: says until when an invitation runs, or that it expired, and offers a resend; an active member has neither', async () => {
    const { a, ann, ivy, old, browser } = await fourMembers();
    const page = async (id: string) => (await browser.get(`/console/teams/${a}/members/${encodeURIComponent(id)}`)).html;
    const [annPage, ivyPage, oldPage] = await Promise.all([page(ann), page(ivy), page(old)]);
    expect(leadOf(annPage)).toBe(`${ann} · active`);
    expect(leadOf(ivyPage)).toBe(`${ivy} · invited · invitation valid until 22 Mar 2026`);
    expect(leadOf(oldPage)).toBe(`${old} · invitation expired on 12 Mar 2026`);
    expect([annPage, ivyPage, oldPage].map((p) => p.includes('Resend invitation'))).toEqual([false, true, true]);
  });

  it('R18: counts the products granted; a refused row says why in a code and a rule, a granted one where access comes from', async () => {
    // No tokens: Ann may use every product through Flex, and the team has nothing to charge.
    const { a, ann, browser } = await fourMembers(0);
    const html = (await browser.get(`/console/teams/${a}/members/${encodeURIComponent(ann)}`)).html;
    const catalog = expectStatus(await gw.op.get('/v1/products'), 200) as { key: string }[];
    const rows = access(html);
    expect(rows).toHaveLength(catalog.length);
    for (const [, verdict, source] of rows) {
      expect(verdict).toBe('refused');
      expect(source).toMatch(/^insufficient-tokens · /);
    }
    expect(html).toContain(`0 of ${catalog.length} products granted.`);

    expectStatus(await gw.op.post(`/v1/teams/${a}/purchases`, { tokens: 50 }), 201);
    const funded = await browser.get(`/console/teams/${a}/members/${encodeURIComponent(ann)}`);
    expect(access(funded.html).map(([, verdict, source]) => [verdict, source])).toEqual(catalog.map(() => ['granted', 'Flex tokens']));
    expect(funded.html).toContain(`${catalog.length} of ${catalog.length} products granted.`);
  });

  it("R13: the products form says whether the team's defaults come on top, or that it has none; a guest never gets them", async () => {
    const { a, ann, gus, browser } = await fourMembers();
    const hint = async (id: string) =>
      unescapeHtml(
        /<p class="hint">\s*Currently:(.*?)<\/p>/s.exec(
          (await browser.get(`/console/teams/${a}/members/${encodeURIComponent(id)}`)).html,
        )?.[1] ?? '',
      )
        .replace(/\s+/g, ' ')
        .trim();
    expect(await hint(ann)).toBe('All products. The team has no default products. Saving a change e-mails the member.');
    expectStatus(await gw.op.put(`/v1/teams/${a}/defaults`, { products: ['maya'] }), 200);
    expect(await hint(ann)).toBe('All products. The team defaults (Maya) come on top. Saving a change e-mails the member.');
    expect(await hint(gus)).toBe('—. Guests never get the team defaults. Saving a change e-mails the member.');
  });
});

describe("console: Resend past the person's daily cap (R11)", () => {
  it('answers 429 with Retry-After, the seconds until the oldest of the 3 e-mails is a day old, as the API does', async () => {
    const { a, ivy, browser } = await fourMembers();
    // Ivy was e-mailed once when invited (at T0, the clock stands still): two resends reach the cap of 3.
    const [member] = expectStatus(await gw.op.get(`/v1/teams/${a}/members?q=${encodeURIComponent(ivy)}`), 200);
    const resend = () =>
      browser.post(`/console/teams/${a}/members/${encodeURIComponent(ivy)}/resend`, { invitation: member.invitation.id });
    for (let i = 0; i < 2; i++) expect((await resend()).status).toBe(303);
    const refused = await resend();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe(String(DAY / 1000));
    expect(textOf(between(refused.html, '<p class="banner err" role="alert">', '</p>'))).toMatch(/^The invitation was not sent again: /);
    expect(await mailsTo(gw, ivy)).toHaveLength(3);
  });
});

describe('console: removing a member (R11)', () => {
  const question = (html: string) => textOf(between(html, '<h2 id="remove-question">', '</h2>'));
  const facts = (html: string) =>
    [...between(html, '<ul class="remove-facts">', '</ul>').matchAll(/<li>(.*?)<\/li>/g)].map((m) => unescapeHtml(m[1] ?? ''));
  const cancelOf = (html: string) =>
    unescapeHtml(/<a class="btn" href="([^"]+)">Cancel<\/a>/.exec(between(html, 'remove-confirm', '</section>'))?.[1] ?? '');
  const namesOf = async (a: string) =>
    new Map(
      (expectStatus(await gw.op.get(`/v1/teams/${a}/members`), 200) as { autodeskId: string; name: string }[]).map((m) => [
        m.autodeskId,
        m.name,
      ]),
    );
  const removals = async (a: string, who: string) =>
    (expectStatus(await gw.op.get(`/v1/teams/${a}/audit?action=member.removed`), 200) as { target: string }[]).filter(
      (e) => e.target === who,
    );

  it('Remove asks first, saying what ends; Cancel goes back to where Remove was; only Confirm removes, once', async () => {
    const { a, ann, browser } = await fourMembers();
    const list = await browser.get(`/console/teams/${a}/members`);
    const teamName = unescapeHtml(new RegExp(`<option value="${a}" selected="">([^<]+)</option>`).exec(list.html)?.[1] ?? '?');
    const name = (await namesOf(a)).get(ann);
    const path = `/console/teams/${a}/members/${encodeURIComponent(ann)}/remove`;

    // The list's Remove button asks; nobody is removed yet.
    const asked = await browser.post(path, {});
    expect(asked.status).toBe(200);
    expect(question(asked.html)).toBe(`Remove ${name} (${ann}) from ${teamName}?`);
    expect(textOf(between(asked.html, '<section class="panel remove-confirm"', '<ul'))).toContain('What happens:');
    expect(facts(asked.html)).toEqual([
      `Their launches through ${teamName} are refused from now on; sessions already open run to their end (they were paid for).`,
      'The products chosen for them here are forgotten. To bring them back, invite them again: they join once they accept.',
      'Usage, the ledger and the audit trail keep their name. Nothing is e-mailed to them.',
    ]);
    expect(cancelOf(asked.html)).toBe(`/console/teams/${a}/members`);
    // From a search's page, Cancel goes back to it: the list's Remove form carries the search.
    const q = ann.slice(0, 6);
    const searched = await browser.get(`/console/teams/${a}/members?q=${encodeURIComponent(q)}`);
    const removeForm =
      new RegExp(`<form method="post" action="${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">([\\s\\S]*?)</form>`).exec(
        searched.html,
      )?.[1] ?? '';
    expect(removeForm).toContain(`name="q" value="${q}"`);
    expect(cancelOf((await browser.post(path, { q })).html)).toBe(`/console/teams/${a}/members?q=${encodeURIComponent(q)}`);
    // What is not a search the list takes is dropped, not echoed into the link.
    expect(cancelOf((await browser.post(path, { q: 'x'.repeat(500), after: 'not an id' })).html)).toBe(`/console/teams/${a}/members`);
    expect((await namesOf(a)).has(ann)).toBe(true);
    expect(await removals(a, ann)).toEqual([]);

    // Confirm removes; sent twice (a double click), the second removes nothing and says why.
    const removed = await browser.post(path, { step: 'confirm' });
    expect(removed.status).toBe(303);
    expect(removed.location).toBe(`/console/teams/${a}/members?done=removed&who=${encodeURIComponent(ann)}`);
    const again = await browser.post(path, { step: 'confirm' });
    expect(again.status).toBe(404);
    expect(textOf(between(again.html, '<p class="banner err" role="alert">', '</p>'))).toBe(
      `Nothing was removed: ${ann} is not a member of ${teamName}; they may have been removed already.`,
    );
    expect((await namesOf(a)).has(ann)).toBe(false);
    expect(await removals(a, ann)).toHaveLength(1);
  });

  it("an invitation's fate is said by its state; Cancel from the member's page goes back there; a confirmed removal kills the link", async () => {
    const { a, ivy, old, browser } = await fourMembers();
    const ask = (who: string, from?: string) =>
      browser.post(`/console/teams/${a}/members/${encodeURIComponent(who)}/remove`, from ? { from } : {});
    const invited = await ask(ivy, 'member');
    expect(facts(invited.html)[0]).toBe(
      'Their invitation stops working now: the link e-mailed to them, valid until 22 Mar 2026, no longer lets them join.',
    );
    expect(cancelOf(invited.html)).toBe(`/console/teams/${a}/members/${encodeURIComponent(ivy)}`);
    expect(facts((await ask(old)).html)[0]).toBe('Their invitation, expired on 12 Mar 2026, can no longer be resent.');
    const link = `/console/invitations/accept?token=${encodeURIComponent(tokenOf((await mailsTo(gw, ivy)).at(-1).text))}`;
    expect((await browser.get(link)).status).toBe(200);

    expect((await browser.post(`/console/teams/${a}/members/${encodeURIComponent(ivy)}/remove`, { step: 'confirm' })).status).toBe(303);
    expect((await browser.get(link)).status).toBe(404);
    expect((await namesOf(a)).has(old)).toBe(true);
  });

  it('asking to remove someone who is not a member removes nothing and says so on the list', async () => {
    const { a, browser } = await fourMembers();
    const nobody = await browser.post(`/console/teams/${a}/members/${encodeURIComponent('nobody@example.com')}/remove`, {});
    expect(nobody.status).toBe(404);
    expect(textOf(between(nobody.html, '<h1>', '</h1>'))).toBe('Members');
    expect(unescapeHtml(nobody.html)).toContain('Nothing was removed: nobody@example.com is not a member of');
  });
});
