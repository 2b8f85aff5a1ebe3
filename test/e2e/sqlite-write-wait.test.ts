/**
 * SQLite with several processes on one file (`--cluster N`, instances on one host): while another
 * process holds the write lock (a 10,000-row import holds it for seconds), a write here waits for
 * it on later turns of the event loop, and everything that needs no write goes on being answered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProcessGateway, startProcessGateway } from '../harness/client-e2e';
import { testEngine } from '../harness/db';
import { balanceOf, newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { holdWriteLock, type WriteLockHolder } from '../harness/sqlite-lock';

/** `answer`, or a failure naming `what` when it has not come in `ms` (a gateway frozen in a wait). */
async function within<T>(what: string, ms: number, answer: Promise<T>): Promise<T> {
  const late = sleep(ms).then(() => {
    throw new Error(`${what}: no answer in ${ms} ms`);
  });
  return Promise.race([answer, late]);
}

describe.runIf(testEngine() === 'sqlite')("another process holding SQLite's write lock", () => {
  // The gateway in a process of its own: a wait that froze it must not freeze the test.
  let gw: ProcessGateway;
  let holder: WriteLockHolder | undefined;
  beforeAll(async () => {
    gw = await startProcessGateway();
    await seedCatalog(gw.fixtures());
  });
  afterAll(async () => {
    await holder?.release();
    await gw?.close();
  });

  it('a purchase waits for it while relaunches and /healthz are answered, and lands once it is released', async () => {
    const team = await newTeam(gw.fixtures(), 100);
    const user = await newMember(gw.fixtures(), team, ['autocad']);
    const first = expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    expect(first.charged).toBe(7);

    holder = await holdWriteLock(gw.database.url.slice('sqlite:'.length));
    let bought = false;
    const purchase = gw.op.post(`/v1/teams/${team}/purchases`, { tokens: 10 }).finally(() => {
      bought = true;
    });
    await sleep(300); // the purchase has begun waiting for the lock

    // Within its session a relaunch writes nothing: answered while the purchase still waits.
    for (let i = 0; i < 3; i++) {
      const again = expectStatus(await within('a relaunch', 3_000, user.api.post('/v1/launch', { product: 'autocad' })), 200);
      expect(again).toMatchObject({ session: { id: first.session.id }, charged: 0 });
      expect(expectStatus(await within('/healthz', 3_000, gw.anon.get('/healthz')), 200)).toMatchObject({ ok: true });
    }
    expect(bought, 'the purchase waited for the write lock').toBe(false);

    await holder.release();
    expect(expectStatus(await purchase, 201).tokens).toBe(10);
    expect(await balanceOf(gw.fixtures(), team)).toBe(100 - 7 + 10);
  }, 30_000);
});
