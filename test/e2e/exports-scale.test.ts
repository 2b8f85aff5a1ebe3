import { connect } from '@flexgate/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../gateway/src/db/repos/audit';
import { ledgerPage } from '../../gateway/src/db/repos/lots';
import { listOutbox } from '../../gateway/src/db/repos/outbox';
import { actionFilter, auditCsv } from '../../gateway/src/domain/audit';
import { newAdmin } from '../harness/admin';
import { auditRows, writeAudit } from '../harness/audit-rows';
import { writeCharges } from '../harness/charges';
import { type ProcessGateway, startProcessGateway } from '../harness/client-e2e';
import { consoleSignIn } from '../harness/console';
import { testEngine } from '../harness/db';
import { CATALOG, newTeam, seedCatalog } from '../harness/fixtures';
import type { Answer, Api } from '../harness/http';
import { probesWhileRead } from '../harness/probes';

// A gateway process of its own: a gateway in the test's process would share its event loop with
// the requests that observe it.
let gw: ProcessGateway;
let team: string;
let other: string;
let admin: Api;
const tag = Math.random().toString(36).slice(2, 8);
// SQLite: large enough that one statement holds the loop for many probes; PostgreSQL: the bytes only.
const large = testEngine() === 'sqlite';
const TRAIL = large ? 30_000 : 2_500;
const CHARGES = large ? 12_000 : 2_500;
const FIRST = Date.parse('2026-01-05T00:00:00Z');
const MAILS = 2_300;
const bulk = `bulk.${tag}@example.com`;
const person = (u: number) => `u${String(u).padStart(3, '0')}.${tag}@example.com`;

/** The trail as one statement read it and the CSV rendered it at once, before exports went in steps. */
async function trailAtOnce(teamId: string | null | undefined, action?: string): Promise<string> {
  const handle = connect({ url: gw.database.url });
  try {
    const rows = await listAudit(handle.db, { team: teamId, action: actionFilter(action), limit: 100_000 });
    const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));
    return auditCsv(rows.map((r) => ({ ...r, team: r.teamId, before: parse(r.before), after: parse(r.after) })));
  } finally {
    await handle.close();
  }
}

/** A ledger page as one statement read it and `c.json` wrote it. */
async function ledgerAtOnce(f: Parameters<typeof ledgerPage>[2]): Promise<string> {
  const handle = connect({ url: gw.database.url });
  try {
    return JSON.stringify(await ledgerPage(handle.db, team, f));
  } finally {
    await handle.close();
  }
}

describe(`exports of ${TRAIL.toLocaleString('en')} audit entries and ${CHARGES.toLocaleString('en')} ledger entries`, {
  shuffle: false,
}, () => {
  beforeAll(async () => {
    // Info logs: the access log's order is the probes' evidence (harness/probes.ts).
    gw = await startProcessGateway({ FLEXGATE_LOG: 'info' });
    await seedCatalog(gw.fixtures());
    team = await newTeam(gw.fixtures());
    other = await newTeam(gw.fixtures());
    admin = (await newAdmin(gw.fixtures(), [team])).api;
    // The team's entries with the operator-wide ones and another team's among them, as ids interleave.
    const half = TRAIL / 2;
    await writeAudit(gw.database.url, [
      ...auditRows(team, half, FIRST, tag),
      ...auditRows(null, 700, FIRST + half * 1000, tag),
      ...auditRows(other, 900, FIRST + (half + 700) * 1000, tag),
      ...auditRows(team, half, FIRST + (half + 1600) * 1000, tag),
    ]);
    await writeCharges(
      gw.database.url,
      team,
      Array.from({ length: CHARGES }, (_, c) => ({
        at: new Date(Date.now() - 20 * 86_400_000 + c * 60_000).toISOString(),
        autodeskId: person(c % 150),
        product: (CATALOG[c % CATALOG.length] as (typeof CATALOG)[number]).key,
      })),
    );
    // Sent mails (the outbox keeps them as sent), as many as a large invitation run leaves.
    const handle = connect({ url: gw.database.url });
    try {
      for (let i = 0; i < MAILS; i += 500) {
        await handle.db
          .insertInto('outbox')
          .values(
            Array.from({ length: Math.min(500, MAILS - i) }, (_, j) => ({
              to_addr: bulk,
              mailbox: bulk,
              subject: `Mail ${i + j}`,
              text: `Hello "${i + j}",\nyou were invited.`,
              kind: 'invitation',
              created_at: new Date(FIRST + (i + j) * 1000).toISOString(),
              sent_at: new Date(FIRST + (i + j) * 1000 + 500).toISOString(),
              attempts: 1,
              last_error: null,
              next_attempt_at: null,
            })),
          )
          .execute();
      }
    } finally {
      await handle.close();
    }
  });
  afterAll(async () => gw?.close());

  it('the audit CSVs, team and operator, are the bytes of the whole trail read and rendered at once', async () => {
    const teamCsv = await admin.get(`/v1/teams/${team}/audit?format=csv`);
    expect(teamCsv.status).toBe(200);
    expect(teamCsv.text.split('\r\n').length).toBeGreaterThan(TRAIL);
    expect(teamCsv.text).toBe(await trailAtOnce(team));
    expect((await gw.op.get(`/v1/operator/audit?format=csv`)).text).toBe(await trailAtOnce(undefined));
    expect((await gw.op.get(`/v1/operator/audit?format=csv&team=none`)).text).toBe(await trailAtOnce(null));
    expect((await gw.op.get(`/v1/operator/audit?format=csv&team=${other}`)).text).toBe(await trailAtOnce(other));
    // A filter that keeps a quarter: pages of the filtered trail, not of the table.
    expect((await admin.get(`/v1/teams/${team}/audit?format=csv&action=member.invited`)).text).toBe(
      await trailAtOnce(team, 'member.invited'),
    );
    const browser = await consoleSignIn(gw.fixtures(), admin.token as string);
    const fromConsole = await browser.get(`/console/teams/${team}/audit.csv`);
    expect(fromConsole.status).toBe(200);
    expect(fromConsole.html).toBe(teamCsv.text);
  });

  it("the ledger's pages are the bytes one statement read, with the same Link", async () => {
    const all = await admin.get(`/v1/teams/${team}/ledger?limit=10000`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe('application/json');
    expect(all.text).toBe(await ledgerAtOnce({ limit: 10_000 }));
    // Full pages that end on a step and inside one, and the Link to the next.
    for (const [after, limit] of [
      [0, 2000],
      [234, 1500],
      [17, 999],
    ] as const) {
      const page = await admin.get(`/v1/teams/${team}/ledger?after=${after}&limit=${limit}`);
      expect(page.text).toBe(await ledgerAtOnce({ after, limit }));
      const last = (page.body as { id: number }[]).at(-1)?.id;
      expect(page.headers.get('link')).toBe(`</v1/teams/${team}/ledger?after=${last}&limit=${limit}>; rel="next"`);
    }
    const user = person(7);
    const mine = await admin.get(`/v1/teams/${team}/ledger?limit=10000&kind=charge&kind=purchase&user=${encodeURIComponent(user)}`);
    expect(mine.text).toBe(await ledgerAtOnce({ limit: 10_000, kinds: ['charge', 'purchase'], autodeskId: user }));
    expect(mine.headers.get('link')).toBeNull();
    const past = await admin.get(`/v1/teams/${team}/ledger?after=999999999&limit=10000`);
    expect(past.text).toBe('[]');
  });

  it("the operator's outbox is the bytes one statement read, and its pages follow the Link to the end", async () => {
    const handle = connect({ url: gw.database.url });
    try {
      for (const limit of [10_000, 2000, 1000, 7]) {
        const r = await gw.op.get(`/v1/outbox?to=${encodeURIComponent(bulk)}&limit=${limit}`);
        expect(r.status).toBe(200);
        expect(r.text).toBe(JSON.stringify(await listOutbox(handle.db, bulk, limit)));
      }
      // Past 10,000 an operator pages: every message once, in order, the filter kept by each Link.
      const all = await listOutbox(handle.db, bulk, MAILS + 1);
      const seen: { id: number }[] = [];
      let next: string | null = `/v1/outbox?to=${encodeURIComponent(bulk)}&limit=1500`;
      while (next) {
        const page: Answer = await gw.op.get(next);
        expect(page.status).toBe(200);
        seen.push(...(page.body as { id: number }[]));
        next = /^<([^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
        if (next) expect(next).toContain(`to=${encodeURIComponent(bulk)}`);
      }
      expect(JSON.stringify(seen)).toBe(JSON.stringify(all));
      const after = all[MAILS - 3]?.id;
      const tail = await gw.op.get(`/v1/outbox?to=${encodeURIComponent(bulk)}&after=${after}&limit=5`);
      expect((tail.body as { id: number }[]).map((m) => m.id)).toEqual(all.slice(MAILS - 2).map((m) => m.id));
      expect(tail.headers.get('link'), 'a page that is not full is the last').toBeNull();
      expect((await gw.op.get('/v1/outbox?after=-1')).status).toBe(400);
    } finally {
      await handle.close();
    }
  });

  // SQLite only: its driver is synchronous, so a long list read in one statement holds the event
  // loop; on PostgreSQL the rows arrive as I/O.
  describe.runIf(large)('while an export is written, launches on fresh connections are answered', () => {
    const expectFewLate = ({ late, middle }: { late: number[]; middle: number[] }) => {
      expect(middle.length).toBeGreaterThan(4);
      // Most, not all: a page is one turn, and a probe sent during the last one is answered after.
      // A gateway that reads the whole export in one turn answers none of them before it.
      expect(late.length, `late probes ${late.join(', ')} of ${middle[0]}-${middle.at(-1)}`).toBeLessThan(middle.length / 4);
    };

    it("the team's audit CSV", async () => {
      const probes = await probesWhileRead(gw, 'audit-csv', async (requestId) => {
        const r = await admin.get(`/v1/teams/${team}/audit?format=csv`, { 'x-request-id': requestId });
        expect(r.text.startsWith('At,Team,Actor')).toBe(true);
      });
      expectFewLate(probes);
    });

    it("the operator's audit CSV", async () => {
      const probes = await probesWhileRead(gw, 'operator-csv', async (requestId) => {
        const r = await gw.op.get('/v1/operator/audit?format=csv', { 'x-request-id': requestId });
        expect(r.text.startsWith('At,Team,Actor')).toBe(true);
      });
      expectFewLate(probes);
    });

    it('10,000 ledger entries as JSON', async () => {
      const probes = await probesWhileRead(gw, 'ledger', async (requestId) => {
        const r = await admin.get(`/v1/teams/${team}/ledger?limit=10000`, { 'x-request-id': requestId });
        expect(r.body).toHaveLength(10_000);
      });
      expectFewLate(probes);
    });
  });
});
