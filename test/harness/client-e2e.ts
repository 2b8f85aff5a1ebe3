/**
 * Helpers for the client end-to-end suites (test/e2e/client-*.test.ts): a real gateway PROCESS
 * that can be stopped and started again on the same database and port (so a client's cache,
 * keyed by the gateway URL, stays valid), a clock shared by the test and the gateway's test
 * clock, temp cache directories, and the `flexgate` CLI spawned as a process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerEntry } from '@flexgate/shared';
import { builtFlexgate } from '../../client/src/testing/bundle';
import { freshDatabase, type TestDatabase } from './db';
import type { TestGateway } from './gateway';
import { Api, expectStatus } from './http';
import { type GatewayProcess, spawnGateway } from './process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ProcessGateway {
  /** Stable across restarts: the same port is reused. */
  readonly url: string;
  readonly port: number;
  readonly operatorKey: string;
  /** Operator calls; rebuilt on every start (no keep-alive socket outlives a process). */
  op: Api;
  anon: Api;
  database: TestDatabase;
  process: GatewayProcess | null;
  /** For the fixtures of fixtures.ts, which only use `op` and `anon`. */
  fixtures(): TestGateway;
  /** SIGTERM and wait for the exit: the gateway is then unreachable. */
  stop(): Promise<void>;
  /** A new process on the same database and port (keys, sessions, ledger kept). */
  start(): Promise<void>;
  /** Moves the gateway's test clock (FLEXGATE_TEST_CLOCK=1); it keeps running from there. */
  setClock(at: Date): Promise<void>;
  close(): Promise<void>;
}

export async function startProcessGateway(env: Record<string, string> = {}): Promise<ProcessGateway> {
  const database = await freshDatabase();
  const operatorKey = `op_${randomBytes(16).toString('hex')}`;
  let proc = await spawnGateway({ databaseUrl: database.url, operatorKey, env });
  const port = proc.port;
  const gw: ProcessGateway = {
    url: proc.url,
    port,
    operatorKey,
    op: new Api(proc.url, operatorKey),
    anon: new Api(proc.url),
    database,
    process: proc,
    fixtures: () => gw as unknown as TestGateway,
    async stop() {
      if (!gw.process) return;
      await gw.process.stop();
      gw.process = null;
    },
    async start() {
      if (gw.process) return;
      proc = await spawnGateway({ databaseUrl: database.url, operatorKey, port, env });
      gw.process = proc;
      gw.op = new Api(proc.url, operatorKey);
      gw.anon = new Api(proc.url);
    },
    async setClock(at) {
      expectStatus(await gw.op.post('/v1/test/clock', { now: at.toISOString() }), 200);
    },
    async close() {
      await gw.stop();
      await database.drop();
    },
  };
  return gw;
}

/** What the test, the client and the gateway agree the time is (the gateway's test clock runs on). */
export class SharedClock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
  /** Moves this clock only (a client whose machine clock moved; the gateway is not told). */
  shift(offsetMs: number): Date {
    this.offsetMs = offsetMs;
    return this.now();
  }
}

/** A private cache directory for one client (removed by `cleanup`). */
export function cacheDirs(): { make(): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), 'flexgate-client-'));
      dirs.push(dir);
      // The client creates its cache under it with mode 0700.
      return join(dir, 'cache');
    },
    cleanup() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node client/bin/flexgate.js ...` as a person or a script runs it: the compiled CLI, which
 * `pnpm build` makes (builtFlexgate throws, saying so, when it is missing or older than the sources).
 */
export function runFlexgate(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const bin = builtFlexgate();
  // Nothing of the test runner's own FLEXGATE_* environment leaks into the CLI.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEXGATE_')));
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`flexgate ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', rej);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** The team's ledger, oldest first (one page is plenty for a test team). */
export async function ledger(gw: ProcessGateway, team: string): Promise<LedgerEntry[]> {
  return expectStatus(await gw.op.get(`/v1/teams/${team}/ledger?limit=10000`), 200) as LedgerEntry[];
}

export async function balance(gw: ProcessGateway, team: string): Promise<{ balance: number; lots: { id: string; remaining: number }[] }> {
  return expectStatus(await gw.op.get(`/v1/teams/${team}/balance`), 200);
}
