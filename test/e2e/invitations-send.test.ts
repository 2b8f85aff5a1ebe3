/**
 * The bulk send of invitation e-mails (POST /v1/teams/:team/invitations/send): an import e-mails
 * nobody (R14), and one call then e-mails exactly its pending people, each once, within the
 * per-recipient cap and the hourly volume limits, the rest left for a later call (R11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMembers, mailsTo, newAdmin, postCsv, tokenOf, uniqueEmail } from '../harness/admin';
import { joinTeam, newAccount, newTeam, seedCatalog, setClock } from '../harness/fixtures';
import { rateLimitsWith, startTestGateway, type TestGateway } from '../harness/gateway';
import { type Api, expectStatus, simultaneously } from '../harness/http';

const T0 = new Date('2026-03-15T10:00:00Z');
const DAY = 86_400_000;
let gw: TestGateway;

beforeAll(async () => {
  // A clock that stands still: the gateway's time is what /v1/test/clock says, to the millisecond.
  gw = await startTestGateway({}, undefined, { clock: { now: () => T0 } });
  await setClock(gw, T0);
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

const csvOf = (people: readonly string[], products = 'autocad') =>
  `name,email,products\n${people.map((e, i) => `Person ${i},${e},${products}`).join('\n')}\n`;

async function importPeople(api: Api, team: string, people: readonly string[]): Promise<void> {
  const r = expectStatus(await postCsv(api, `/v1/teams/${team}/members/import`, csvOf(people)), 200);
  expect(r.errors).toEqual([]);
}

const invitationMails = async (g: Pick<TestGateway, 'op'>, to: string) => (await mailsTo(g, to)).filter((m) => m.kind === 'invitation');

const send = (api: Api, team: string, body?: unknown, headers?: Record<string, string>) =>
  api.post(`/v1/teams/${team}/invitations/send`, body, headers);

describe('sending the invitations of an import (R11, R14)', () => {
  it('one send e-mails exactly the people never e-mailed: not the one invited already, not an active member; each e-mail a working invitation', async () => {
    const team = await newTeam(gw, 100);
    const admin = (await newAdmin(gw, [team])).api;
    const active = await newAccount(gw);
    await joinTeam(gw, team, active, { products: ['maya'] }, admin);
    const invited = uniqueEmail('invited');
    expectStatus(await admin.post(`/v1/teams/${team}/members`, { invite: `Already Asked <${invited}>` }), 201);
    const fresh = Array.from({ length: 5 }, () => uniqueEmail('imported'));
    // The file names the active member and the invited one too: they are updated, not invited again.
    await importPeople(admin, team, [...fresh, active.autodeskId, invited]);
    for (const p of fresh) expect(await mailsTo(gw, p)).toEqual([]);
    const before = new Map((await allMembers(admin, team)).map((m) => [m.autodeskId, m]));
    expect(fresh.map((p) => before.get(p)?.invitation?.emailedAt)).toEqual(fresh.map(() => null));
    expect(before.get(invited)?.invitation?.emailedAt).toBe(T0.toISOString());
    const activeMails = (await mailsTo(gw, active.autodeskId)).length;

    await setClock(gw, new Date(T0.getTime() + 3600_000));
    try {
      expect(expectStatus(await send(admin, team), 200)).toEqual({
        sent: 5,
        remaining: 0,
        heldByVolume: 0,
        heldByRecipient: 0,
        retryAfterSeconds: null,
        skipped: 0,
      });
      for (const p of fresh) expect(await invitationMails(gw, p)).toHaveLength(1);
      expect(await invitationMails(gw, invited)).toHaveLength(1);
      expect(await mailsTo(gw, active.autodeskId)).toHaveLength(activeMails);
      const after = new Map((await allMembers(admin, team)).map((m) => [m.autodeskId, m]));
      for (const p of fresh) {
        // A new invitation, as a resend makes: 7 days from the send, e-mailed now.
        expect(after.get(p)).toMatchObject({
          status: 'invited',
          invitation: { expiresAt: new Date(T0.getTime() + 3600_000 + 7 * DAY).toISOString(), emailedAt: '2026-03-15T11:00:00.000Z' },
        });
        expect(after.get(p)?.invitation?.id).not.toBe(before.get(p)?.invitation?.id);
      }
      expect(after.get(active.autodeskId)).toMatchObject({ status: 'active' });
      expect(after.get(invited)?.invitation).toEqual(before.get(invited)?.invitation);

      // The e-mail's token accepts: the person joins with the products the file gave.
      const [mail] = await invitationMails(gw, fresh[0] as string);
      expect(mail.text).toMatch(/AutoCAD/);
      const accepted = await gw.anon.post('/v1/invitations/accept', { token: tokenOf(mail.text), password: 'password-123' });
      expect(expectStatus(accepted, 200)).toMatchObject({ autodeskId: fresh[0], team, status: 'active', accountCreated: true });

      // Sent again: nothing more to send, nothing more sent.
      expect(expectStatus(await send(admin, team), 200)).toMatchObject({ sent: 0, remaining: 0, retryAfterSeconds: null });
      for (const p of fresh) expect(await invitationMails(gw, p)).toHaveLength(1);

      // One audit entry for the send, with its addresses, as an import writes one for its file.
      const trail = expectStatus(await admin.get(`/v1/teams/${team}/audit?action=invitations.sent`), 200);
      expect(trail).toHaveLength(1);
      expect(trail[0]).toMatchObject({ action: 'invitations.sent', target: null, after: { sent: 5, remaining: 0 } });
      expect([...trail[0].after.members].sort()).toEqual([...fresh].sort());
    } finally {
      await setClock(gw, T0);
    }
  });

  it('R11: an imported invitation that expired before anyone e-mailed it is sent with 7 fresh days', async () => {
    const team = await newTeam(gw);
    const admin = (await newAdmin(gw, [team])).api;
    const person = uniqueEmail('late');
    await importPeople(admin, team, [person]);
    const later = new Date(T0.getTime() + 10 * DAY);
    await setClock(gw, later);
    try {
      expect((await allMembers(admin, team))[0]).toMatchObject({ status: 'expired', invitation: { emailedAt: null } });
      expect(expectStatus(await send(admin, team), 200)).toMatchObject({ sent: 1, remaining: 0 });
      expect((await allMembers(admin, team))[0]).toMatchObject({
        status: 'invited',
        invitation: { expiresAt: new Date(later.getTime() + 7 * DAY).toISOString(), emailedAt: later.toISOString() },
      });
      expect(await invitationMails(gw, person)).toHaveLength(1);
    } finally {
      await setClock(gw, T0);
    }
  });

  it('an address that had its 3 invitation e-mails today, from any team, is held back and said when; a day later it goes', async () => {
    const [other, team] = [await newTeam(gw), await newTeam(gw)];
    const admin = (await newAdmin(gw, [team])).api;
    const busy = uniqueEmail('busy');
    const calm = uniqueEmail('calm');
    // Three invitation e-mails to `busy` from another team: the first now, two more 10 minutes later.
    const first = expectStatus(await gw.op.post(`/v1/teams/${other}/members`, { invite: `Busy Person <${busy}>` }), 201);
    await setClock(gw, new Date(T0.getTime() + 600_000));
    try {
      for (let i = 0; i < 2; i++) expectStatus(await gw.op.post(`/v1/teams/${other}/invitations/${first.invitation.id}/resend`), 200);
      await importPeople(admin, team, [busy, calm]);
      expect(expectStatus(await send(admin, team), 200)).toEqual({
        sent: 1,
        remaining: 1,
        heldByVolume: 0,
        heldByRecipient: 1,
        // Until the first of the three is a day old: 23 h 50 min.
        retryAfterSeconds: DAY / 1000 - 600,
        skipped: 0,
      });
      expect(await invitationMails(gw, calm)).toHaveLength(1);
      expect(await invitationMails(gw, busy)).toHaveLength(3);
      const waiting = (await allMembers(admin, team)).find((m) => m.autodeskId === busy);
      expect(waiting.invitation.emailedAt).toBeNull();

      await setClock(gw, new Date(T0.getTime() + DAY + 1000));
      expect(expectStatus(await send(admin, team), 200)).toMatchObject({ sent: 1, remaining: 0, heldByRecipient: 0 });
      expect(await invitationMails(gw, busy)).toHaveLength(4);
    } finally {
      await setClock(gw, T0);
    }
  });

  it('addresses with +tags reach one mailbox, and share its 3 invitation e-mails a day: in one send, and one by one', async () => {
    const [other, team] = [await newTeam(gw), await newTeam(gw)];
    const admin = (await newAdmin(gw, [team])).api;
    const plain = uniqueEmail('tagged');
    const [local, domain] = plain.split('@') as [string, string];
    const tagged = ['a', 'b', 'c', 'd', 'e'].map((t) => `${local}+${t}@${domain}`);
    expectStatus(await gw.op.post(`/v1/teams/${other}/members`, { invite: `Plain Person <${plain}>` }), 201);
    await importPeople(admin, team, tagged);
    expect(expectStatus(await send(admin, team), 200)).toMatchObject({ sent: 2, remaining: 3, heldByRecipient: 3 });
    const mails = async () => (await Promise.all([plain, ...tagged].map((a) => invitationMails(gw, a)))).flat();
    expect(await mails()).toHaveLength(3);
    // One more, by another address of the mailbox: refused, and the refusal names the mailbox.
    const refused = await gw.op.post(`/v1/teams/${other}/members`, { invite: `Tagged Person <${local}+f@${domain}>` });
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain(`(${plain})`);
    expect(await mails()).toHaveLength(3);
  });

  it('teams sending at once to one address imported into each: still at most 3 invitation e-mails a day', async () => {
    for (let round = 0; round < 4; round++) {
      const teams = [await newTeam(gw), await newTeam(gw), await newTeam(gw), await newTeam(gw), await newTeam(gw)];
      const person = uniqueEmail(`shared${round}`);
      // Two e-mails already, from a sixth team: one more is allowed, whichever send is first.
      const elsewhere = await newTeam(gw);
      const first = expectStatus(await gw.op.post(`/v1/teams/${elsewhere}/members`, { invite: `Shared Person <${person}>` }), 201);
      expectStatus(await gw.op.post(`/v1/teams/${elsewhere}/invitations/${first.invitation.id}/resend`), 200);
      for (const t of teams) await importPeople(gw.op, t, [person]);
      const answers = await simultaneously(
        teams.map((t) => ({ api: gw.op, method: 'POST', path: `/v1/teams/${t}/invitations/send`, body: {} })),
      );
      const results = answers.map((a) => expectStatus(a, 200));
      expect(results.map((r) => r.sent).sort(), `round ${round}`).toEqual([0, 0, 0, 0, 1]);
      expect(await invitationMails(gw, person), `round ${round}`).toHaveLength(3);
    }
  });

  it('only the invitations named: the others wait; an id that waits for nothing is counted as skipped', async () => {
    const team = await newTeam(gw);
    const admin = (await newAdmin(gw, [team])).api;
    const people = [uniqueEmail('a'), uniqueEmail('b'), uniqueEmail('c')];
    await importPeople(admin, team, people);
    const ids = new Map((await allMembers(admin, team)).map((m) => [m.autodeskId, m.invitation.id as string]));
    const named = [ids.get(people[0] as string) as string, ids.get(people[1] as string) as string, 'inv_no_such_one'];
    expect(expectStatus(await send(admin, team, { invitations: named }), 200)).toEqual({
      sent: 2,
      remaining: 0,
      heldByVolume: 0,
      heldByRecipient: 0,
      retryAfterSeconds: null,
      skipped: 1,
    });
    expect((await invitationMails(gw, people[0] as string)).length + (await invitationMails(gw, people[1] as string)).length).toBe(2);
    expect(await invitationMails(gw, people[2] as string)).toEqual([]);
    // The same ids again: sent already (their invitations replaced), so all skipped.
    expect(expectStatus(await send(admin, team, { invitations: named }), 200)).toMatchObject({ sent: 0, skipped: 3 });
    // No body at all: every one still waiting.
    expect(expectStatus(await admin.request('POST', `/v1/teams/${team}/invitations/send`), 200)).toMatchObject({ sent: 1 });
    for (const bad of [{ invitations: [] }, { invitations: ['not an id'] }, { everyone: true }]) {
      expect((await send(admin, team, bad)).status, JSON.stringify(bad)).toBe(400);
    }
  });

  it('an Idempotency-Key answers a retried send as the first time, sending nothing more; the key with another body is a 409', async () => {
    const team = await newTeam(gw);
    const admin = (await newAdmin(gw, [team])).api;
    const people = [uniqueEmail('k1'), uniqueEmail('k2')];
    await importPeople(admin, team, people);
    const key = { 'idempotency-key': `send-${team}` };
    const first = expectStatus(await send(admin, team, {}, key), 200);
    expect(first).toMatchObject({ sent: 2, remaining: 0 });
    expect(expectStatus(await send(admin, team, {}, key), 200)).toEqual(first);
    for (const p of people) expect(await invitationMails(gw, p)).toHaveLength(1);
    const other = await send(admin, team, { invitations: ['inv_x'] }, key);
    expect([other.status, other.body.code]).toEqual([409, 'conflict']);

    // The same key sent four times at once (a client retrying while the first is under way): one
    // send, and every answer is its answer.
    for (let round = 0; round < 3; round++) {
      const again = await newTeam(gw);
      const more = [uniqueEmail('k3'), uniqueEmail('k4')];
      await importPeople(gw.op, again, more);
      const path = `/v1/teams/${again}/invitations/send`;
      const burst = { api: gw.op, method: 'POST', path, body: {}, headers: { 'idempotency-key': `burst-${again}` } };
      const answers = await simultaneously([burst, burst, burst, burst]);
      expect(
        answers.map((a) => expectStatus(a, 200).sent),
        `round ${round}`,
      ).toEqual([2, 2, 2, 2]);
      for (const p of more) expect(await invitationMails(gw, p)).toHaveLength(1);
    }
  });

  it('sends at once, by two admins and the operator, over two instances of one database, e-mail each person once', async () => {
    const second = await startTestGateway({}, gw);
    try {
      for (let round = 0; round < 3; round++) {
        const team = await newTeam(gw);
        const [a, b] = [await newAdmin(gw, [team]), await newAdmin(gw, [team])];
        const people = Array.from({ length: 20 }, () => uniqueEmail(`race${round}`));
        await importPeople(a.api, team, people);
        const path = `/v1/teams/${team}/invitations/send`;
        const answers = await simultaneously([
          { api: a.api, method: 'POST', path, body: {} },
          { api: b.api, method: 'POST', path, body: {} },
          { api: gw.op, method: 'POST', path, body: {} },
          { api: second.anon.as(a.api.token as string), method: 'POST', path, body: {} },
          { api: second.anon.as(b.api.token as string), method: 'POST', path, body: {} },
          { api: second.op, method: 'POST', path, body: {} },
        ]);
        const results = answers.map((r) => expectStatus(r, 200));
        expect(
          results.reduce((n, r) => n + r.sent, 0),
          `round ${round}`,
        ).toBe(20);
        for (const r of results) expect(r.remaining).toBe(0);
        for (const p of people) expect(await invitationMails(gw, p), `round ${round}: ${p}`).toHaveLength(1);
        const members = await allMembers(a.api, team);
        expect(members.filter((m) => m.invitation?.emailedAt === null)).toEqual([]);
        const trail = expectStatus(await a.api.get(`/v1/teams/${team}/audit?action=invitations.sent`), 200);
        expect(trail.reduce((n: number, e: any) => n + e.after.sent, 0)).toBe(20);
      }
    } finally {
      await second.close();
    }
  });

  it("another team's admin gets 403 and sends nothing, naming the invitations or not; an unknown team is a 404 for the operator", async () => {
    const [team, theirs] = [await newTeam(gw), await newTeam(gw)];
    const admin = (await newAdmin(gw, [team])).api;
    const stranger = (await newAdmin(gw, [theirs])).api;
    const people = [uniqueEmail('mine1'), uniqueEmail('mine2')];
    await importPeople(admin, team, people);
    const ids = (await allMembers(admin, team)).map((m) => m.invitation.id);
    for (const body of [{}, { invitations: ids }]) {
      const refused = await send(stranger, team, body);
      expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
      // Through its own team, the ids of another team's invitations wait for nothing there.
      expect(expectStatus(await send(stranger, theirs, { invitations: ids }), 200)).toMatchObject({ sent: 0, skipped: 2 });
    }
    const account = await newAccount(gw);
    const signedIn = expectStatus(await gw.anon.post('/v1/signin', account), 200);
    expect((await send(gw.anon.as(signedIn.token), team)).status).toBe(403);
    expect((await send(gw.anon, team)).status).toBe(401);
    expect((await send(gw.op, 'tm_no_such_team')).status).toBe(404);
    for (const p of people) expect(await mailsTo(gw, p)).toEqual([]);
    expect((await allMembers(admin, team)).map((m) => m.invitation.emailedAt)).toEqual([null, null]);
  });
});

describe('the hourly volume of bulk sends (FLEXGATE_RATE_INVITE_BULK_PER_HOUR)', () => {
  it('per admin key and per team: what is over is held, said with when to call again; the operator is held by the team', async () => {
    const limited = await startTestGateway({ rateLimit: true, rateLimits: rateLimitsWith({ inviteBulkPerHour: 3 }) });
    try {
      await seedCatalog(limited);
      const [t1, t2, t3] = [await newTeam(limited), await newTeam(limited), await newTeam(limited)];
      const a = (await newAdmin(limited, [t1, t2])).api;
      const b = (await newAdmin(limited, [t1, t3])).api;
      const people = new Map<string, string[]>();
      for (const t of [t1, t2, t3]) {
        people.set(
          t,
          Array.from({ length: 5 }, () => uniqueEmail('vol')),
        );
        await importPeople(t === t3 ? b : a, t, people.get(t) as string[]);
      }
      const first = expectStatus(await send(a, t1), 200);
      // 3 an hour: one every 20 minutes, the next in 20 minutes at most.
      expect(first).toMatchObject({ sent: 3, remaining: 2, heldByVolume: 2, heldByRecipient: 0 });
      expect(first.retryAfterSeconds).toBeGreaterThan(1190);
      expect(first.retryAfterSeconds).toBeLessThanOrEqual(1200);
      // The same admin, again: held, nothing sent.
      expect(expectStatus(await send(a, t1), 200)).toMatchObject({ sent: 0, remaining: 2, heldByVolume: 2 });
      // Another admin of the team, and the operator: the team's hour is used up.
      expect(expectStatus(await send(b, t1), 200)).toMatchObject({ sent: 0, remaining: 2 });
      expect(expectStatus(await send(limited.op, t1), 200)).toMatchObject({ sent: 0, remaining: 2 });
      // The admin on its other team: its own hour is used up.
      expect(expectStatus(await send(a, t2), 200)).toMatchObject({ sent: 0, remaining: 5, heldByVolume: 5 });
      // Another admin on another team is not held back.
      expect(expectStatus(await send(b, t3), 200)).toMatchObject({ sent: 3, remaining: 2 });
      const mailed = async (t: string) => {
        let n = 0;
        for (const p of people.get(t) as string[]) n += (await invitationMails(limited, p)).length;
        return n;
      };
      expect([await mailed(t1), await mailed(t2), await mailed(t3)]).toEqual([3, 0, 3]);
    } finally {
      await limited.close();
    }
  });

  it('a batch larger than the hour is sent in parts: each call continues where the last stopped, each person e-mailed once', async () => {
    // 3,600 an hour is one a second: the first call sends 3,600, the rest follows second by second.
    const limited = await startTestGateway({ rateLimit: true, rateLimits: rateLimitsWith({ inviteBulkPerHour: 3600 }) });
    try {
      await seedCatalog(limited);
      const team = await newTeam(limited);
      const admin = (await newAdmin(limited, [team])).api;
      const tag = Math.random().toString(36).slice(2, 8);
      const people = Array.from({ length: 3603 }, (_, i) => `p${i}.${tag}@example.com`);
      await importPeople(admin, team, people);
      const first = expectStatus(await send(admin, team), 200);
      expect(first).toMatchObject({ sent: 3600, remaining: 3, heldByVolume: 3 });
      expect(first.retryAfterSeconds).toBeLessThanOrEqual(1);
      let sent = first.sent;
      let last = first;
      for (let call = 0; last.remaining > 0 && call < 20; call++) {
        await new Promise((r) => setTimeout(r, (last.retryAfterSeconds ?? 0) * 1000 + 50));
        last = expectStatus(await send(admin, team), 200);
        sent += last.sent;
      }
      expect([sent, last.remaining, last.retryAfterSeconds]).toEqual([3603, 0, null]);
      const outbox = expectStatus(await limited.op.get('/v1/outbox?limit=10000'), 200) as any[];
      const counts = new Map<string, number>();
      for (const m of outbox) if (m.kind === 'invitation') counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
      expect(people.filter((p) => counts.get(p) !== 1)).toEqual([]);
    } finally {
      await limited.close();
    }
  }, 120_000);
});
