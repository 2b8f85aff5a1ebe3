/**
 * The member search matches each member's stored fold (`members.name_fold`, migration 027), so
 * every way a name is written must write its fold: an import (a new member, and a member renamed by
 * a later file; API and console), an invitation (API and console), an existing account added by its ID, and an
 * invitation accepted (which changes the member, not the name). Each is found by a query in
 * another case and form, over real HTTP, on both engines; and on PostgreSQL the search needs no ICU.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { mailsTo, newAdmin, postCsv, tokenOf, uniqueEmail } from '../harness/admin';
import { consoleSignIn } from '../harness/console';
import { testEngine } from '../harness/db';
import type { TestGateway } from '../harness/gateway';
import { type Api, expectStatus } from '../harness/http';
import { ledgerCheckedSuite } from '../harness/suite';

const T0 = new Date('2026-03-15T10:00:00Z');
let gw: TestGateway;
const team = ledgerCheckedSuite(T0, (g) => {
  gw = g;
});

/** The members `q` finds, as Autodesk ID and status, in the order answered. */
async function found(api: Api, teamId: string, q: string): Promise<[string, string][]> {
  const r = expectStatus(await api.get<any[]>(`/v1/teams/${teamId}/members?q=${encodeURIComponent(q)}`), 200);
  return r.map((m) => [m.autodeskId, m.status]);
}

async function adminOf(): Promise<{ a: string; admin: Api }> {
  const a = await team();
  return { a, admin: (await newAdmin(gw, [a])).api };
}

const csvOf = (rows: [string, string][]) => `name,email,products,guest\n${rows.map(([name, email]) => `${name},${email},,`).join('\n')}\n`;

describe('every write of a member’s name writes what the search matches', () => {
  it('an import: new members, and a member renamed by a later file (the old name no longer finds them)', async () => {
    const { a, admin } = await adminOf();
    const [asa, odys] = [uniqueEmail('asa'), uniqueEmail('odys')];
    const imported = await postCsv(
      admin,
      `/v1/teams/${a}/members/import`,
      csvOf([
        ['ÅSA Öberg', asa],
        ['Old Name', odys],
      ]),
    );
    expect(expectStatus(imported, 200).errors).toEqual([]);
    expect(await found(admin, a, 'åsa öb')).toEqual([[asa, 'invited']]);
    expect(await found(admin, a, 'ÅSA ÖB')).toEqual([[asa, 'invited']]);
    // Decomposed in the file (A + U+030A), composed in the query: the same.
    expect(
      expectStatus(await postCsv(admin, `/v1/teams/${a}/members/import`, csvOf([['ΟΔΥΣΣΕΥΣ A\u030Akesson', odys]])), 200).errors,
    ).toEqual([]);
    expect(await found(admin, a, 'οδυσσευς')).toEqual([[odys, 'invited']]);
    expect(await found(admin, a, '\u00e5kesson')).toEqual([[odys, 'invited']]);
    expect(await found(admin, a, 'old name')).toEqual([]);
    // The console's upload: the same import.
    const eero = uniqueEmail('eero');
    const browser = await consoleSignIn(gw, admin.token as string);
    const file = new File([csvOf([['ÉÉRO Ylönen', eero]])], 'members.csv', { type: 'text/csv' });
    expect((await browser.upload(`/console/teams/${a}/members/import`, { file })).status).toBe(200);
    expect(await found(admin, a, 'éé')).toEqual([[eero, 'invited']]);
  });

  it('an invitation, by the API and by the console’s form, and then its acceptance', async () => {
    const { a, admin } = await adminOf();
    const [gross, dora] = [uniqueEmail('gross'), uniqueEmail('dora')];
    expectStatus(await admin.post(`/v1/teams/${a}/members`, { invite: `GROẞ Ümit <${gross}>` }), 201);
    expect(await found(admin, a, 'groß ümit')).toEqual([[gross, 'invited']]);
    const browser = await consoleSignIn(gw, admin.token as string);
    expect((await browser.post(`/console/teams/${a}/members`, { invite: `ÐÓRA Þór <${dora}>` })).status).toBe(303);
    expect(await found(admin, a, 'ðóra þ')).toEqual([[dora, 'invited']]);
    // Accepting makes the member active (and an account named as invited): still found by name.
    const [mail] = await mailsTo(gw, gross);
    expectStatus(await gw.anon.post('/v1/invitations/accept', { token: tokenOf(mail.text), password: 'a-long-password-1' }), 200);
    expect(await found(admin, a, 'GROß ÜMIT')).toEqual([[gross, 'active']]);
  });

  it('an existing account added by its Autodesk ID, under the account’s own name', async () => {
    const { a, admin } = await adminOf();
    const cagla = uniqueEmail('cagla');
    expectStatus(await gw.op.post('/v1/users', { autodeskId: cagla, name: 'ÇAĞLA Şen', password: 'a-long-password-1' }), 201);
    expectStatus(await admin.post(`/v1/teams/${a}/members`, { autodeskId: cagla }), 201);
    expect(await found(admin, a, 'çağla ş')).toEqual([[cagla, 'invited']]);
    expect(await found(admin, a, 'ÇAĞLA Ş')).toEqual([[cagla, 'invited']]);
  });

  // The search once folded names in SQL with ICU's collation, and answered 500 on a PostgreSQL
  // built without ICU; a database without that collation stands for such a build.
  it.skipIf(testEngine() !== 'postgres')('on PostgreSQL, needs no ICU: a database without its collations still searches', async () => {
    const { a, admin } = await adminOf();
    const sigma = uniqueEmail('sigma');
    expectStatus(await admin.post(`/v1/teams/${a}/members`, { invite: `ΣΊΣΥΦΟΣ Greek <${sigma}>` }), 201);
    const client = new pg.Client({ connectionString: gw.database.url });
    await client.connect();
    try {
      await client.query('drop collation pg_catalog."und-x-icu"');
    } finally {
      await client.end();
    }
    expect(await found(admin, a, 'σίσυφος')).toEqual([[sigma, 'invited']]);
  });
});
