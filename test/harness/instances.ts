import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { Agent } from 'undici';
import { freshDatabase, type TestDatabase } from './db';
import type { TestGateway } from './gateway';
import { Api, expectStatus } from './http';
import { type GatewayProcess, type SpawnOptions, spawnGateway } from './process';

/** One gateway process of a group sharing a database, with its own HTTP connections. */
export interface Instance {
  url: string;
  proc: GatewayProcess;
  op: Api;
  anon: Api;
  close(): Promise<void>;
}

/** Several gateway processes (or one `--cluster N` process) on one database, as operators run them. */
export interface InstanceGroup {
  database: TestDatabase;
  operatorKey: string;
  instances: Instance[];
  close(): Promise<void>;
}

export interface GroupOptions {
  /** How many processes to spawn; they all start at the same time (migrations and key set-up race). */
  count: number;
  env?: Record<string, string>;
  args?: string[];
  timeoutMs?: number;
}

/** Wraps one running process in Apis with a connection pool of its own. */
export function instanceOf(proc: GatewayProcess, operatorKey: string): Instance {
  const pool = { agent: new Agent({ connections: 128 }) };
  return {
    url: proc.url,
    proc,
    op: new Api(proc.url, operatorKey, pool),
    anon: new Api(proc.url, undefined, pool),
    async close() {
      await proc.stop();
      await pool.agent.close();
    },
  };
}

/**
 * Starts `count` gateway processes at once on one fresh database of the test engine (PostgreSQL
 * in the PostgreSQL pass, one SQLite file otherwise) with one operator key.
 */
export async function startGroup(options: GroupOptions): Promise<InstanceGroup> {
  const database = await freshDatabase();
  const operatorKey = `op_${randomBytes(16).toString('hex')}`;
  const spawnOptions: SpawnOptions = {
    databaseUrl: database.url,
    operatorKey,
    env: options.env ?? {},
    args: options.args ?? [],
    timeoutMs: options.timeoutMs ?? 45_000,
  };
  const started = await Promise.allSettled(Array.from({ length: options.count }, () => spawnGateway(spawnOptions)));
  const procs = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
  if (failed.length > 0) {
    await Promise.all(procs.map((p) => p.stop()));
    await database.drop();
    // Every failure, in the order they were started: one process's exit can explain another's wait.
    if (failed.length === 1) throw failed[0] instanceof Error ? failed[0] : new Error(String(failed[0]));
    throw new Error(failed.map((f, i) => `failure ${i + 1} of ${failed.length}: ${f instanceof Error ? f.message : String(f)}`).join('\n'));
  }
  const instances = procs.map((p) => instanceOf(p, operatorKey));
  return {
    database,
    operatorKey,
    instances,
    async close() {
      await Promise.all(instances.map((i) => i.close()));
      await database.drop();
    },
  };
}

/**
 * The fixtures of fixtures.ts (seedCatalog, newTeam, newMember, expectLedgerMatchesBalance, ...)
 * talk to a gateway only through `.op` and `.anon`; this lets them drive any one instance.
 */
export function viaInstance(instance: Pick<Instance, 'op' | 'anon'>): TestGateway {
  return { op: instance.op, anon: instance.anon } as Pick<TestGateway, 'op' | 'anon'> as TestGateway;
}

/** The JWKS an instance publishes, as a jose key set for offline verification. */
export async function jwksOf(instance: Pick<Instance, 'anon'>) {
  const jwks = expectStatus(await instance.anon.get('/.well-known/jwks.json'), 200) as JSONWebKeySet;
  return { jwks, keySet: createLocalJWKSet(jwks) };
}

/** Runs `tasks` with at most `limit` in flight; answers come back in the tasks' order. */
export async function withConcurrency<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tasks.length; i = next++) results[i] = await (tasks[i] as () => Promise<T>)();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
