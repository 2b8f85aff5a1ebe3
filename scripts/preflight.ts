/**
 * What the test suite needs from the machine, checked before anything runs: each check either
 * fixes what it can (as root, from Debian's packages) or says in one line what is missing and how
 * to get it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';

export type Preflight = { ok: true } | { ok: false; message: string };

export const CHROMIUM = process.env.FLEXGATE_CHROMIUM ?? '/usr/bin/chromium';
const PG_URL = new URL(process.env.FLEXGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');

const isRoot = () => process.getuid?.() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** test/browser drives Debian's Chromium through playwright-core (no browser download works here). */
export function ensureChromium(): Preflight {
  if (existsSync(CHROMIUM)) return { ok: true };
  const how = 'apt-get install -y chromium (as root), or set FLEXGATE_CHROMIUM to a Chromium binary';
  if (process.env.FLEXGATE_CHROMIUM || !isRoot() || !has('apt-get')) {
    return { ok: false, message: `Chromium is missing at ${CHROMIUM} (the console's browser tests need it): ${how}.` };
  }
  console.log("Chromium is missing: installing it from Debian's packages (apt-get install chromium)...");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const install =
    update.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (install && install.status === 0 && existsSync(CHROMIUM)) return { ok: true };
  return { ok: false, message: `Chromium is missing at ${CHROMIUM} and apt-get could not install it (see above): ${how}.` };
}

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The PostgreSQL pass creates a fresh database per gateway on this server. */
export async function ensurePostgres(): Promise<Preflight> {
  const host = PG_URL.hostname;
  const port = Number(PG_URL.port || 5432);
  const where = `${host}:${port}`;
  const skip = 'or run `pnpm test:sqlite` to skip the PostgreSQL pass';
  if (await reachable(host, port)) return { ok: true };
  const local = host === '127.0.0.1' || host === 'localhost';
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  const version = versions[0];
  if (!local || !isRoot() || !version || !has('pg_ctlcluster')) {
    return { ok: false, message: `PostgreSQL is not reachable at ${where}: start it (e.g. pg_ctlcluster <version> main start), ${skip}.` };
  }
  console.log(`PostgreSQL is not running at ${where}: starting it (pg_ctlcluster ${version} main start)...`);
  spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
  for (let i = 0; i < 30; i++) {
    if (await reachable(host, port)) return { ok: true };
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { ok: false, message: `PostgreSQL is not reachable at ${where}, even after pg_ctlcluster ${version} main start: ${skip}.` };
}
