/**
 * Invitations written at once by every route that writes them: a bulk send (which takes every
 * recipient lock), resends, and new members asked by address or by Autodesk ID. Each of those
 * transactions takes a recipient's lock (the per-recipient cap, services/invitations.ts) and the
 * access epoch's row (any change of who may launch), so on PostgreSQL they must take them in one
 * order, or two of them wait for each other until PostgreSQL breaks the circle after a second
 * (deadlock_timeout), the admin waiting meanwhile, an error in the server's log.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, postCsv, uniqueEmail } from '../harness/admin';
import { testEngine } from '../harness/db';
import { newAccount, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type BurstRequest, expectStatus, simultaneously } from '../harness/http';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

/** Deadlocks PostgreSQL broke in the gateway's database so far (what its log says as "deadlock detected"). */
async function deadlocks(): Promise<number> {
  const client = new pg.Client({ connectionString: gw.database.url });
  await client.connect();
  try {
    await client.query('select pg_stat_clear_snapshot()');
    const { rows } = await client.query('select deadlocks from pg_stat_database where datname = current_database()');
    return Number(rows[0]?.deadlocks ?? 0);
  } finally {
    await client.end();
  }
}

/** Transactions this gateway started over after a deadlock, as its GET /metrics counts them (db/tx.ts). */
async function deadlockRetries(): Promise<number> {
  const text = expectStatus(await gw.op.get('/metrics'), 200) as string;
  const series = 'flexgate_transaction_retries_total{reason="deadlock"}';
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  expect(line, `${series} in GET /metrics`).toBeDefined();
  return Number(line?.slice(series.length + 1));
}

describe('invitations written at once by a bulk send, resends and new members', () => {
  it('every request succeeds, each person is e-mailed once, and PostgreSQL breaks no deadlock between them', async () => {
    const before = testEngine() === 'postgres' ? await deadlocks() : 0;
    expect(await deadlockRetries()).toBe(0);
    for (let round = 0; round < 6; round++) {
      const bulkTeam = await newTeam(gw);
      const imported = Array.from({ length: 8 }, () => uniqueEmail(`bulk${round}`));
      const csv = `name,email,products\n${imported.map((e, i) => `Person ${i},${e},autocad`).join('\n')}\n`;
      expectStatus(await postCsv(gw.op, `/v1/teams/${bulkTeam}/members/import`, csv), 200);
      // Invitations already sent, to be resent in the burst.
      const resendTeam = await newTeam(gw);
      const resends: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = expectStatus(
          await gw.op.post(`/v1/teams/${resendTeam}/members`, { invite: `Resent ${i} <${uniqueEmail('resent')}>` }),
          201,
        );
        resends.push(r.invitation.id);
      }
      const askTeam = await newTeam(gw);
      const invitees = Array.from({ length: 4 }, () => uniqueEmail(`asked${round}`));
      const accounts = await Promise.all([0, 1, 2].map(() => newAccount(gw)));

      const burst: BurstRequest[] = [
        { api: gw.op, method: 'POST', path: `/v1/teams/${bulkTeam}/invitations/send`, body: {} },
        ...resends.map((id): BurstRequest => ({ api: gw.op, method: 'POST', path: `/v1/teams/${resendTeam}/invitations/${id}/resend` })),
        ...invitees.map(
          (e): BurstRequest => ({ api: gw.op, method: 'POST', path: `/v1/teams/${askTeam}/members`, body: { invite: `Asked <${e}>` } }),
        ),
        ...accounts.map(
          (a): BurstRequest => ({ api: gw.op, method: 'POST', path: `/v1/teams/${askTeam}/members`, body: { autodeskId: a.autodeskId } }),
        ),
      ];
      const answers = await simultaneously(burst);
      expect(expectStatus(answers[0] as (typeof answers)[number], 200).sent, `round ${round}`).toBe(imported.length);
      for (const a of answers.slice(1, 1 + resends.length)) expectStatus(a, 200);
      for (const a of answers.slice(1 + resends.length)) expectStatus(a, 201);
      for (const to of [...imported, ...invitees, ...accounts.map((a) => a.autodeskId)]) {
        expect(
          (await mailsTo(gw, to)).filter((m) => m.kind === 'invitation'),
          to,
        ).toHaveLength(1);
      }
    }
    // What an operator sees of it: no transaction was started over for a deadlock, on either engine.
    expect(await deadlockRetries()).toBe(0);
    if (testEngine() === 'postgres') {
      // A backend reports its counts when idle, at most once a second: wait for them to arrive.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await deadlocks()).toBe(before);
    }
  }, 120_000);
});
