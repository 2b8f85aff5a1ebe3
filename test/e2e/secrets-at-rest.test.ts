import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@flexgate/gateway';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, tokenOf, uniqueEmail } from '../harness/admin';
import { builtGateway } from '../harness/built-gateway';
import { freshDatabase, type TestDatabase, testEngine, testKek } from '../harness/db';
import { newMember, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import type { TestGateway } from '../harness/gateway';
import { Api, expectStatus } from '../harness/http';
import { type GatewayProcess, spawnGateway } from '../harness/process';

/**
 * What someone who reads the database (a backup, a replica, a stolen disk image) learns: no
 * private key, no live invitation token. Real gateway processes on a real database; the database
 * is read directly, as that person would.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const operatorKey = `op_${randomBytes(16).toString('hex')}`;
const newKek = randomBytes(32).toString('base64');

let smtp: SMTPServer;
let smtpUrl: string;
const received: { to: string[]; raw: string }[] = [];
const databases: TestDatabase[] = [];
const running: GatewayProcess[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((res) => smtp.listen(0, '127.0.0.1', () => res()));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const d of databases) await d.drop();
  await new Promise<void>((res) => smtp.close(() => res()));
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase(testEngine());
  databases.push(db);
  return db;
}

/** A gateway process on `db`; `kek` '' starts it without FLEXGATE_KEK (an empty variable is unset). */
async function start(db: TestDatabase, env: Record<string, string> = {}): Promise<{ proc: GatewayProcess; gw: TestGateway }> {
  const proc = await spawnGateway({ databaseUrl: db.url, operatorKey, env: { SMTP_URL: smtpUrl, ...env } });
  running.push(proc);
  const gw = { op: new Api(proc.url, operatorKey), anon: new Api(proc.url), url: proc.url } as unknown as TestGateway;
  return { proc, gw };
}

/** A start that must fail: its exit code and everything it wrote. */
function refused(db: TestDatabase, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [builtGateway()], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, FLEXGATE_OPERATOR_KEY: operatorKey, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
}

/** Every row of every table, as text: what a dump of the database shows. */
async function dump(db: TestDatabase): Promise<{ all: string; rows: (table: string) => Promise<Record<string, unknown>[]> }> {
  const handle = connect({ url: db.url });
  try {
    const tables =
      testEngine() === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(handle.db)).rows.map((r) => r.name)
        : (
            await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(
              handle.db,
            )
          ).rows.map((r) => r.name);
    const byTable = new Map<string, Record<string, unknown>[]>();
    for (const t of tables) byTable.set(t, (await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(handle.db)).rows);
    return { all: JSON.stringify([...byTable]), rows: async (t) => byTable.get(t) ?? [] };
  } finally {
    await handle.close();
  }
}

/** A private JWK, as JSON in clear: its `d` member. */
const PRIVATE_JWK = /\\?"d\\?"\s*:/;

async function waitFor<T>(what: string, find: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The text of a raw message, undoing quoted-printable if the sender chose it. */
function bodyOf(raw: string): string {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(head ?? '')) return body;
  return Buffer.from(
    body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

const kids = async (gw: TestGateway) =>
  (expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();

describe('secrets at rest', () => {
  it('after keys rotated and revoked and an invitation delivered, the database holds no private key and no sent token', async () => {
    const db = await database();
    const { proc, gw } = await start(db);
    await seedCatalog(gw);
    const team = await newTeam(gw, 100);
    const member = await newMember(gw, team);
    expectStatus(await member.api.post('/v1/launch', { product: 'autocad' }), 200);
    expectStatus(await gw.op.post('/v1/keys/rotate', {}), 200);
    const { kid: third } = expectStatus(await gw.op.post('/v1/keys/rotate', {}), 200) as { kid: string };
    const keys = expectStatus(await gw.op.get('/v1/operator/signing-keys'), 200) as { kid: string }[];
    const oldest = keys[keys.length - 1]?.kid as string;
    expectStatus(await gw.op.post(`/v1/operator/signing-keys/${oldest}/revoke`, {}), 200);

    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('sealed');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Sid Sealed <${email}>`, products: ['autocad'] }), 201);
    const message = await waitFor('the invitation e-mail', () => received.find((m) => m.to.includes(email)));
    const token = tokenOf(bodyOf(message.raw));
    const sent = await waitFor('sentAt', async () => (await mailsTo(gw, email)).find((m) => m.sentAt !== null));
    // The operator's view of a sent e-mail no longer carries the token either.
    expect(sent.text).not.toContain(token);
    expect(sent.text).toMatch(/^Link: \(removed from the outbox once sent\)$/m);

    const seen = await dump(db);
    expect(seen.all).not.toMatch(PRIVATE_JWK);
    expect(seen.all).not.toContain(token);
    // The dump did read the keys: their public halves and kids are there, each private half sealed.
    const rows = await seen.rows('signing_keys');
    expect(rows.map((r) => r.kid)).toEqual(expect.arrayContaining([third, oldest]));
    expect(rows).toHaveLength(3);
    for (const r of [...rows, ...(await seen.rows('root_key'))]) expect(String(r.private_jwk)).toMatch(/^kek1:[\w-]+:[\w-]+:[\w-]+$/);
    if (testEngine() === 'sqlite') {
      // The file itself (and its write-ahead log), not only its rows: a private key was never written in clear.
      const file = db.url.slice('sqlite:'.length);
      const bytes = [file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
      for (const b of bytes) expect(b).not.toMatch(PRIVATE_JWK);
    }

    // The token was live all along (it was a secret worth keeping out): it still accepts the invitation.
    expectStatus(await gw.anon.post('/v1/invitations/accept', { token, password: 'sid-password-1' }), 200);

    // A restart with the same KEK opens the keys: same JWKS, a sign-in signs, a launch verifies it.
    const before = await kids(gw);
    await proc.stop();
    const again = await start(db);
    expect(await kids(again.gw)).toEqual(before);
    const sid = await signIn(again.gw, { autodeskId: email, password: 'sid-password-1' });
    expect(expectStatus(await sid.api.post('/v1/launch', { product: 'autocad' }), 200)).toMatchObject({ granted: true });
    await again.proc.stop();

    // A wrong KEK, or none, stops the start with one line naming the problem, before serving anything.
    const wrong = await refused(db, { FLEXGATE_KEK: randomBytes(32).toString('base64url') });
    expect(wrong.code, wrong.output).toBe(2);
    expect(wrong.output).toMatch(/^flexgate: signing_keys\.private_jwk of \S+ is sealed with key-encryption key \S+, but FLEXGATE_KEK/m);
    expect(wrong.output).not.toMatch(/\n\s+at /);
    const none = await refused(db, { FLEXGATE_KEK: '' });
    expect(none.code, none.output).toBe(2);
    expect(none.output).toMatch(/^flexgate: .* is sealed with key-encryption key \S+ and FLEXGATE_KEK is unset/m);
    // Several gateway processes started one after the other: slow on a loaded machine.
  }, 90_000);

  it('an invitation e-mail waiting in the outbox holds its token only sealed under the KEK; the operator and delivery see it opened', async () => {
    const db = await database();
    // No SMTP_URL: the e-mail waits in the outbox for as long as the operator takes to deliver it.
    const { proc, gw } = await start(db, { SMTP_URL: '' });
    const team = await newTeam(gw);
    const admin = await newAdmin(gw, [team]);
    const email = uniqueEmail('waiting');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Wes Waiting <${email}>`, products: [] }), 201);
    const [mail] = await mailsTo(gw, email);
    expect(mail.sentAt).toBeNull();
    const token = tokenOf(mail.text);

    const seen = await dump(db);
    expect(seen.all).not.toContain(token);
    const row = (await seen.rows('outbox')).find((r) => r.to_addr === email) ?? {};
    // The accept link (it carries the token) is sealed whole.
    const sealedLine = /^Link: (kek1:[\w-]+:[\w-]+:[\w-]+)$/m;
    expect(String(row.text)).toMatch(sealedLine);
    // What the dump holds is no token: it accepts nothing. The opened one does.
    const sealed = sealedLine.exec(String(row.text))?.[1] ?? '';
    expect((await gw.anon.post('/v1/invitations/accept', { token: sealed, password: 'wes-password-1' })).status).toBe(404);

    // A second one waiting beside it, to another person: each e-mail is resealed in its own row.
    const other = uniqueEmail('waiting-too');
    expectStatus(await admin.api.post(`/v1/teams/${team}/members`, { invite: `Vi Waiting <${other}>`, products: [] }), 201);
    const otherToken = tokenOf((await mailsTo(gw, other))[0].text);

    // A KEK rotation reseals the waiting token too: once the old KEK is gone, the e-mail still opens.
    await proc.stop();
    const rotated = await start(db, { SMTP_URL: '', FLEXGATE_KEK: newKek, FLEXGATE_KEK_PREVIOUS: testKek });
    await rotated.proc.stop();
    const after = (await (await dump(db)).rows('outbox')).find((r) => r.to_addr === email) ?? {};
    expect(sealedLine.exec(String(after.text))?.[1]?.split(':')[1]).not.toBe(sealed.split(':')[1]);
    const fresh = await start(db, { SMTP_URL: '', FLEXGATE_KEK: newKek });
    expect(tokenOf((await mailsTo(fresh.gw, email))[0].text)).toBe(token);
    expect(tokenOf((await mailsTo(fresh.gw, other))[0].text)).toBe(otherToken);
    expectStatus(await fresh.gw.anon.post('/v1/invitations/accept', { token, password: 'wes-password-1' }), 200);
    expectStatus(await fresh.gw.anon.post('/v1/invitations/accept', { token: otherToken, password: 'vi-password-1' }), 200);
  }, 90_000);

  it('keys stored in clear are sealed on the first start with a KEK; a KEK rotated with FLEXGATE_KEK_PREVIOUS reseals them all', async () => {
    const db = await database();
    // A deployment from before sealing: no KEK, keys in clear, and a warning says so.
    const clear = await start(db, { FLEXGATE_KEK: '' });
    await seedCatalog(clear.gw);
    expectStatus(await clear.gw.op.post('/v1/keys/rotate', {}), 200);
    const before = await kids(clear.gw);
    expect(clear.proc.output()).toMatch(/FLEXGATE_KEK is unset: the private signing keys are stored in clear/);
    await clear.proc.stop();
    expect((await dump(db)).all).toMatch(PRIVATE_JWK);

    const sealed = await start(db, { FLEXGATE_KEK: testKek });
    expect(await kids(sealed.gw)).toEqual(before);
    expect(sealed.proc.output()).not.toMatch(/stored in clear/);
    await sealed.proc.stop();
    const first = await dump(db);
    expect(first.all).not.toMatch(PRIVATE_JWK);
    const envelopeKid = (r: Record<string, unknown>) => String(r.private_jwk).split(':')[1];
    const oldKid = envelopeKid((await first.rows('signing_keys'))[0] ?? {});

    // Rotation: the new KEK seals, the previous one only reads; afterwards the old one alone opens nothing.
    const rotated = await start(db, { FLEXGATE_KEK: newKek, FLEXGATE_KEK_PREVIOUS: testKek });
    expect(await kids(rotated.gw)).toEqual(before);
    const member = await newMember(rotated.gw, await newTeam(rotated.gw, 50));
    expectStatus(await member.api.post('/v1/launch', { product: 'autocad' }), 200);
    await rotated.proc.stop();
    const second = await dump(db);
    const envelopes = [...(await second.rows('signing_keys')), ...(await second.rows('root_key'))].map(envelopeKid);
    expect(envelopes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(envelopes).size).toBe(1);
    expect(envelopes[0]).not.toBe(oldKid);

    const old = await refused(db, { FLEXGATE_KEK: testKek });
    expect(old.code, old.output).toBe(2);
    expect(old.output).toMatch(/sealed with key-encryption key/);
    const after = await start(db, { FLEXGATE_KEK: newKek });
    expect(await kids(after.gw)).toEqual(before);
    // Several gateway processes started one after the other: slow on a loaded machine.
  }, 90_000);
});
