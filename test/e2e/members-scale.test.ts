import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAdmin, postCsv } from '../harness/admin';
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
    const late = middle.filter((p) => !p.answeredDuringImport).map((p) => p.index);
    expect(late, `probes ${middle[0]?.index}-${middle.at(-1)?.index} of ${probes.length}`).toEqual([]);
  });
});
