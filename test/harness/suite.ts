import { afterAll, afterEach, beforeAll } from 'vitest';
import { expectLedgerMatchesBalance, newTeam, seedCatalog, setClock } from './fixtures';
import { startTestGateway, type TestGateway } from './gateway';

/**
 * One gateway for a test file, with the catalog seeded and the clock at `t0`. After every test,
 * each team made through the returned `team()` is checked against its ledger (R5), whatever the
 * test did, and the clock goes back to `t0`. `ready` hands the gateway to the file.
 */
export function ledgerCheckedSuite(t0: Date, ready: (gw: TestGateway) => void) {
  let gw: TestGateway | undefined;
  const touched = new Set<string>();
  beforeAll(async () => {
    gw = await startTestGateway();
    ready(gw);
    await setClock(gw, t0);
    await seedCatalog(gw);
  });
  afterAll(async () => gw?.close());
  afterEach(async () => {
    if (!gw) return;
    for (const t of touched) await expectLedgerMatchesBalance(gw, t);
    touched.clear();
    await setClock(gw, t0);
  });
  return async function team(tokens?: number, purchasedAt?: string): Promise<string> {
    if (!gw) throw new Error('the suite gateway is not started yet');
    const id = await newTeam(gw, tokens, purchasedAt);
    touched.add(id);
    return id;
  };
}
