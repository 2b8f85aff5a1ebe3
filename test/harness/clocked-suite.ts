import { type ClientOptions, createClient, type FlexgateClient } from '@flexgate/client';
import { afterAll, beforeAll } from 'vitest';
import { cacheDirs, type ProcessGateway, SharedClock, startProcessGateway } from './client-e2e';
import { seedCatalog } from './fixtures';
import { trustOf } from './trust';

/**
 * The setting of a client suite: a gateway PROCESS with the test clock and the catalog, its root
 * key trusted as a product embeds it, and clients whose clock moves with the gateway's (`at`).
 * Registers its own beforeAll/afterAll; read `gw` and `trust` inside tests.
 */
export interface ClockedSuite {
  readonly gw: ProcessGateway;
  readonly trust: string;
  readonly clock: SharedClock;
  /** Moves the clients' clock, and the gateway's while it runs (it keeps the last one set), to real time + offset. */
  at(offsetMs: number): Promise<Date>;
  /** A client of this gateway on a cache of its own (or `cacheDir`), closed after the suite. */
  client(options?: Partial<ClientOptions>): FlexgateClient;
  /** A fresh cache directory, removed after the suite. */
  cacheDir(): string;
}

export function clockedSuite(env: Record<string, string> = {}): ClockedSuite {
  let gw: ProcessGateway | undefined;
  let trust = '';
  const clock = new SharedClock();
  const dirs = cacheDirs();
  const clients: FlexgateClient[] = [];
  beforeAll(async () => {
    gw = await startProcessGateway({ FLEXGATE_TEST_CLOCK: '1', ...env });
    trust = await trustOf(gw);
    await seedCatalog(gw.fixtures());
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    dirs.cleanup();
  });
  const running = (): ProcessGateway => {
    if (!gw) throw new Error('the suite gateway starts in beforeAll');
    return gw;
  };
  return {
    get gw() {
      return running();
    },
    get trust() {
      return trust;
    },
    clock,
    async at(offsetMs) {
      const now = clock.shift(offsetMs);
      if (running().process) await running().setClock(now);
      return now;
    },
    client(options = {}) {
      const client = createClient({ gatewayUrl: running().url, trust, cacheDir: dirs.make(), clock: clock.now, ...options });
      clients.push(client);
      return client;
    },
    cacheDir: () => dirs.make(),
  };
}
