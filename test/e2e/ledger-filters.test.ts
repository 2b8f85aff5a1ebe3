import { describe, expect, it } from 'vitest';
import { buy, joinTeam, ledgerOf, newAccount, newMember, setClock, signIn, type TestUser } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { type Api, expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

let gw: TestGateway;
const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
const KINDS = ['purchase', 'charge', 'refund', 'transfer-out', 'transfer-in', 'expiry'] as const;

const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

/** Every page of `query` from the start, `limit` a page, following `after` as the link header says. */
async function pages(admin: Api, teamId: string, query: string, limit: number): Promise<string[]> {
  const texts: string[] = [];
  let after = 0;
  for (;;) {
    const r = await admin.get(`/v1/teams/${teamId}/ledger?after=${after}&limit=${limit}${query}`);
    expectStatus(r, 200);
    texts.push(r.text);
    const page = r.body as { id: number }[];
    const last = page.at(-1);
    // A next page is named exactly when this one is full.
    expect(r.headers.get('link'), `${query} after ${after}`).toBe(
      page.length === limit && last ? `</v1/teams/${teamId}/ledger?after=${last.id}&limit=${limit}${query}>; rel="next"` : null,
    );
    if (page.length < limit || !last) return texts;
    after = last.id;
  }
}

describe('R5: the ledger filtered by kind and by user', () => {
  it('every filter, page by page, is the whole ledger filtered, byte for byte, and nothing of another team', async () => {
    // A lot bought 360 days ago expires on day 6 with tokens left: an expiry entry.
    const a = await team(500, new Date(T0.getTime() - 360 * DAY).toISOString());
    const b = await team(300);
    await buy(gw, a, 400);
    // The operator: an access token signed at T0 would not outlive the days below.
    const admin = gw.op;
    let busy = await newMember(gw, a, 'all');
    let refunder = await newMember(gw, a, 'all');
    let once = await newMember(gw, a, ['revit']);
    const idle = await newMember(gw, a, ['autocad']);
    // In both teams, charged in both: team A's filter shows only A's entries of theirs.
    let both: TestUser = await signIn(gw, await newAccount(gw, 'both'));
    await joinTeam(gw, a, both, { allProducts: true });
    await joinTeam(gw, b, both, { allProducts: true });
    let onlyB = await newMember(gw, b, 'all');

    for (let d = 0; d < 8; d++) {
      await setClock(gw, new Date(T0.getTime() + d * DAY));
      // Signed in again each day: access tokens do not last a day.
      const again = (u: TestUser) => signIn(gw, { autodeskId: u.autodeskId, password: u.password });
      [busy, refunder, once, both, onlyB] = await Promise.all([again(busy), again(refunder), again(once), again(both), again(onlyB)]);
      for (const p of ['autocad', 'revit', 'maya']) expectStatus(await busy.api.post('/v1/launch', { product: p }), 200);
      // Closed at once: the day is free (R7a), a refund entry.
      const quick = expectStatus(await refunder.api.post('/v1/launch', { product: d % 2 ? 'maya' : 'revit' }), 200);
      expectStatus(await refunder.api.post(`/v1/sessions/${quick.session.id}/end`), 200);
      expectStatus(await both.api.post('/v1/launch', { product: 'autocad', team: a }), 200);
      expectStatus(await both.api.post('/v1/launch', { product: 'civil-3d', team: b }), 200);
      expectStatus(await onlyB.api.post('/v1/launch', { product: 'revit' }), 200);
      if (d === 1) expectStatus(await once.api.post('/v1/launch', { product: 'revit' }), 200);
      if (d === 2) expectStatus(await admin.post(`/v1/teams/${a}/transfers`, { toTeam: b, tokens: 30 }), 201);
      if (d === 3) expectStatus(await admin.post(`/v1/teams/${b}/transfers`, { toTeam: a, tokens: 20 }), 201);
      if (d === 4) await buy(gw, a, 50);
    }
    const all = await ledgerOf(gw, a);
    const kindsSeen = new Set(all.map((e) => e.kind));
    expect([...kindsSeen].sort()).toEqual([...KINDS].sort());
    expect(all.filter((e) => e.kind === 'refund').length).toBeGreaterThan(4);

    const users = [busy, refunder, once, idle, both, onlyB].map((u) => u.autodeskId).concat('nobody@example.com');
    const filters: { kinds: string[]; user?: string }[] = [
      { kinds: [] },
      ...KINDS.map((k) => ({ kinds: [k] })),
      { kinds: ['purchase', 'expiry'] },
      { kinds: ['refund', 'transfer-in', 'transfer-out'] },
      { kinds: ['expiry', 'purchase', 'refund', 'transfer-in', 'transfer-out'] },
      { kinds: ['charge', 'refund'] },
      { kinds: [...KINDS] },
      { kinds: ['refund', 'refund', 'expiry'] },
      ...users.map((user) => ({ kinds: [], user })),
      ...users.flatMap((user) => [
        { kinds: ['refund'], user },
        { kinds: ['charge', 'refund'], user },
        { kinds: ['purchase'], user },
      ]),
    ];
    for (const f of filters) {
      const want = all.filter(
        (e) => (f.kinds.length === 0 || f.kinds.includes(e.kind)) && (f.user === undefined || e.autodeskId === f.user),
      );
      const query = [...f.kinds.map((k) => `&kind=${k}`), f.user ? `&user=${encodeURIComponent(f.user)}` : ''].join('');
      for (const limit of [2, 1000]) {
        const got = await pages(admin, a, query, limit);
        const expected: string[] = [];
        for (let i = 0; i < want.length; i += limit) expected.push(JSON.stringify(want.slice(i, i + limit)));
        // The empty last page when the entries fill the pages exactly (or there are none).
        if (want.length % limit === 0) expected.push('[]');
        expect(got, `${query} limit ${limit}`).toEqual(expected);
      }
    }
    // The other team's side of the transfers and its users' entries are its own.
    const others = await ledgerOf(gw, b);
    expect(others.some((e) => e.autodeskId === both.autodeskId)).toBe(true);
    expect(all.some((e) => others.some((o) => o.id === e.id))).toBe(false);
    expect(all.some((e) => e.autodeskId === both.autodeskId)).toBe(true);
    expect(all.filter((e) => e.autodeskId === once.autodeskId)).toHaveLength(1);
  });
});
