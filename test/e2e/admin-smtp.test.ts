import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from '@flexgate/gateway';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf, uniqueEmail } from '../harness/admin';
import { newTeam, seedCatalog, setClock, signIn } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

interface Received {
  to: string[];
  raw: string;
}

const README = new URL('../../README.md', import.meta.url);
let smtp: SMTPServer;
let gw: TestGateway;
const received: Received[] = [];
/** Addresses whose first delivery the server refuses with a temporary error (retry test). */
const refuseOnce = new Set<string>();
/** Addresses whose every delivery the server refuses, and how many times it did. */
const refuseAlways = new Map<string, number>();

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const always = to.find((t) => refuseAlways.has(t));
        if (always) {
          refuseAlways.set(always, (refuseAlways.get(always) ?? 0) + 1);
          return callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 450 }));
        }
        const refused = to.find((t) => refuseOnce.has(t));
        if (refused) {
          refuseOnce.delete(refused);
          return callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
        }
        received.push({ to, raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  const { port } = smtp.server.address() as AddressInfo;
  gw = await startTestGateway({ smtpUrl: `smtp://127.0.0.1:${port}` });
  await setClock(gw, '2026-03-15T10:00:00Z');
  await seedCatalog(gw);
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

/** The text body of a raw message, undoing quoted-printable if the sender chose it. */
function bodyOf(raw: string): string {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(head ?? '')) return body;
  return Buffer.from(
    body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

async function waitFor<T>(what: string, find: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('e-mail over SMTP (R11, R14)', () => {
  it('R11: the invitation e-mail reaches a real SMTP server; its token accepts the invitation; the user signs in and launches', async () => {
    const team = await newTeam(gw, 50);
    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('smtp');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Sam Smtp <${email}>`, products: ['autocad'] }), 201);

    const message = await waitFor('the invitation e-mail', () => received.find((m) => m.to.includes(email)));
    expect(message.raw).toMatch(/^Subject: Autodesk Flex: you are invited to team /m);
    // The sender is the one the README documents (FLEXGATE_MAIL_FROM's default).
    const documented = /\| `FLEXGATE_MAIL_FROM` \| `([^`]+)` \|/.exec(readFileSync(README, 'utf8'))?.[1] as string;
    const [, name, address] = /^(.*) <([^>]+)>$/.exec(documented) as RegExpExecArray;
    const from = /^From: (.*)$/m.exec(message.raw)?.[1] ?? '';
    expect(from.replace(/"/g, '')).toBe(`${name} <${address}>`);
    const token = tokenOf(bodyOf(message.raw));
    const outbox = await waitFor('sentAt', async () => (await mailsTo(gw, email)).find((m) => m.sentAt !== null));
    expect(outbox).toMatchObject({ kind: 'invitation', attempts: 1 });
    // Delivered, the outbox keeps the e-mail without its token: whoever reads the database later cannot accept it.
    expect(outbox.text).not.toContain(token);
    expect(outbox.text).toMatch(/^Link: \(removed from the outbox once sent\)$/m);

    expectStatus(await gw.anon.post('/v1/invitations/accept', { token, password: 'sam-password-1' }), 200);
    const user = await signIn(gw, { autodeskId: email, password: 'sam-password-1' });
    expect(expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({
      granted: true,
      source: 'flex',
      charged: 7,
      balance: 43,
    });
  });

  it('R14: an e-mail goes to the one address it names, never to what a mail library would parse out of it', async () => {
    // A message to an ID written before such IDs were refused ("a:victim@..." is, parsed, a group
    // delivered to victim@...): it goes to that address as written, or nowhere.
    const victim = uniqueEmail('victim');
    const odd = `groupname:${victim}`;
    const handle = connect({ url: gw.database.url });
    try {
      await handle.db
        .insertInto('outbox')
        .values({
          to_addr: odd,
          subject: 'Old message',
          text: 'Hello',
          kind: 'access',
          created_at: '2026-03-15T10:00:00.000Z',
          attempts: 0,
        })
        .execute();
      const row = () => handle.db.selectFrom('outbox').select(['attempts', 'sent_at']).where('to_addr', '=', odd).executeTakeFirstOrThrow();
      const tried = await waitFor('a delivery attempt', async () => {
        const r = await row();
        return r.attempts > 0 ? r : undefined;
      });
      // A plain address after it: once that one arrived, the odd one had its turn.
      const team = await newTeam(gw, 10);
      const admin = await newAdmin(gw, [team]);
      const plain = uniqueEmail('after');
      expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Pat Plain <${plain}>` }), 201);
      await waitFor('the plain e-mail', () => received.find((m) => m.to.includes(plain)));
      expect(received.filter((m) => m.to.includes(victim))).toEqual([]);
      // Delivered, then only to the address as written.
      if (tried.sent_at !== null) expect(received.filter((m) => m.to.includes(odd))).toHaveLength(1);
      // And no such address is taken any more.
      expect((await admin.api.post(`/v1/teams/${team}/members`, { invite: `Call Me <other:${victim}>` })).status).toBe(400);
    } finally {
      await handle.close();
    }
  });

  it('R14: a message the server refuses is retried with backoff, then marked sent', async () => {
    const team = await newTeam(gw, 50);
    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('retry');
    refuseOnce.add(email);
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Ray Retry <${email}>` }), 201);
    const failed = await waitFor('a failed attempt', async () => (await mailsTo(gw, email)).find((m) => m.lastError !== null));
    expect(failed).toMatchObject({ sentAt: null, attempts: 1 });
    expect(failed.lastError).toMatch(/busy/);
    // The next attempt waits for its backoff (5 s on the gateway's clock, which the test holds):
    // two polls of the sender later, nothing was tried again.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await mailsTo(gw, email))[0]).toMatchObject({ sentAt: null, attempts: 1 });
    // Moving the clock past it makes it due now.
    await setClock(gw, new Date(Date.parse(failed.createdAt) + 60_000));
    const sent = await waitFor('the retry', async () => (await mailsTo(gw, email)).find((m) => m.sentAt !== null));
    expect(sent.attempts).toBe(2);
    expect(received.filter((m) => m.to.includes(email))).toHaveLength(1);
  });

  it('R14: two instances delivering one outbox send each e-mail once', async () => {
    const other = await startTestGateway({ smtpUrl: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}` }, gw);
    try {
      // One instant on both: a claim is a lease on the clock, and instances' clocks agree.
      for (const g of [gw, other]) await setClock(g, '2026-03-15T12:00:00Z');
      const team = await newTeam(gw, 50);
      const admin = await newAdmin(gw, [team]);
      const emails = Array.from({ length: 30 }, (_, i) => uniqueEmail(`twice-${i}`));
      await Promise.all(
        emails.map((email, i) =>
          admin.api.post(`/v1/teams/${team}/members`, { invite: `Person ${i} <${email}>` }).then((r) => expectStatus(r, 201)),
        ),
      );
      for (const email of emails)
        await waitFor(`the e-mail to ${email}`, async () => (await mailsTo(gw, email)).find((m) => m.sentAt !== null));
      // Both senders polled the same rows: each message was claimed by one of them only.
      expect(emails.map((email) => received.filter((m) => m.to.includes(email)).length)).toEqual(emails.map(() => 1));
    } finally {
      await other.close();
    }
  });

  it('R14: a message refused every time is tried ten times in all (docs/admin.md), then left with its last error', async () => {
    const start = Date.parse('2026-03-20T00:00:00Z');
    await setClock(gw, new Date(start));
    const team = await newTeam(gw, 50);
    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('never');
    refuseAlways.set(email, 0);
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Nell Never <${email}>` }), 201);
    // Another invitation of the same moment is delivered at once: the failures are Nell's e-mail's alone.
    const fine = uniqueEmail('fine');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Fay Fine <${fine}>` }), 201);
    await waitFor('the other e-mail', async () => (await mailsTo(gw, fine)).find((m) => m.sentAt !== null));
    // Each attempt's backoff is at most an hour: the clock moves two hours on at every look until the next attempt.
    let steps = 0;
    const later = () => setClock(gw, new Date(start + ++steps * 7_200_000));
    for (let n = 1; n <= 10; n++) {
      await waitFor(`attempt ${n}`, async () => {
        if ((await mailsTo(gw, email))[0]?.attempts === n) return true;
        await later();
        return undefined;
      });
    }
    await waitFor('the tenth refusal', () => (refuseAlways.get(email) === 10 ? true : undefined));
    // A day on, over three polls of the sender: no eleventh attempt.
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 12; i++) await later();
    await new Promise((r) => setTimeout(r, 2500));
    const [left] = await mailsTo(gw, email);
    expect(left).toMatchObject({ sentAt: null, attempts: 10 });
    expect(left?.lastError).toMatch(/unavailable/);
    expect((await mailsTo(gw, fine))[0]).toMatchObject({ attempts: 1, lastError: null });
    expect(refuseAlways.get(email)).toBe(10);
  }, 60_000);
});
