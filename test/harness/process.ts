import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtGateway } from './built-gateway';
import { testKek } from './db';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface GatewayProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote, for assertions on logs and for failure messages. */
  output(): string;
  /** Sends a signal and waits for the process to exit; resolves with its exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  databaseUrl: string;
  operatorKey?: string;
  port?: number;
  env?: Record<string, string>;
  args?: string[];
  /** How long to wait for "listening on" (a start takes a second or two); below a test's 30 s, so that the reason shows. */
  timeoutMs?: number;
}

/**
 * What a process that did not start was doing: Node writes a diagnostic report on SIGUSR2 from its
 * event loop, so a report names what it waits for (its sockets, timers, JS stack), and none within
 * a second and a half says its main thread is blocked in a synchronous call (SQLite's busy wait).
 */
async function whatItWasDoing(child: ChildProcess, reports: string): Promise<string> {
  child.kill('SIGUSR2');
  for (let waited = 0; waited < 1500; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    const file = readdirSync(reports).find((f) => f.endsWith('.json'));
    if (!file) continue;
    try {
      const report = JSON.parse(readFileSync(join(reports, file), 'utf8')) as {
        javascriptStack?: { message?: string; stack?: string[] };
        libuv?: { type: string; is_active?: boolean; remoteEndpoint?: { port?: number } }[];
      };
      const handles = (report.libuv ?? [])
        .filter((h) => h.is_active)
        .map((h) => (h.remoteEndpoint?.port ? `${h.type}->${h.remoteEndpoint.port}` : h.type));
      const stack = report.javascriptStack?.stack?.slice(0, 8).join('\n  ') ?? '(idle: no JavaScript running)';
      return `its event loop answered a diagnostic report: active handles ${handles.join(', ')}; JavaScript stack:\n  ${stack}`;
    } catch {
      // Still being written: the next look reads it whole.
    }
  }
  return `no diagnostic report within 1.5 s: its main thread is blocked in a synchronous call${nativeStack(child.pid)}`;
}

/** The main thread's native stack, from gdb where the machine has it: which synchronous call blocks. */
function nativeStack(pid: number | undefined): string {
  if (pid === undefined) return '';
  const gdb = spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'thread 1', '-ex', 'bt 30'], { encoding: 'utf8', timeout: 15_000 });
  if (gdb.error || !gdb.stdout) return '';
  // "thread 1" prints its top frame too: each frame once, cut to a readable length.
  const frames = [...new Set(gdb.stdout.split('\n').filter((l) => /^#\d+/.test(l)))].map((l) => l.slice(0, 200));
  return frames.length ? `; its main thread (gdb):\n  ${frames.join('\n  ')}` : '';
}

/**
 * A real gateway process, started the way operators start it (the compiled `gateway/dist/main.js`,
 * built from gateway/src by `pnpm build`),
 * for tests that kill, restart or run several instances.
 */
export async function spawnGateway(options: SpawnOptions): Promise<GatewayProcess> {
  const operatorKey = options.operatorKey ?? `op_${randomBytes(16).toString('hex')}`;
  const reports = mkdtempSync(join(tmpdir(), 'flexgate-report-'));
  const diagnostics = ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${reports}`, '--report-compact'];
  const child = spawn(process.execPath, [...diagnostics, builtGateway(), ...(options.args ?? [])], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(options.port ?? 0),
      HOST: '127.0.0.1',
      DATABASE_URL: options.databaseUrl,
      FLEXGATE_OPERATOR_KEY: operatorKey,
      FLEXGATE_LOG: 'warn',
      FLEXGATE_RATE_LIMIT: 'off',
      FLEXGATE_SCRYPT_N: '1024',
      FLEXGATE_KEK: testKek,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => {
      rmSync(reports, { recursive: true, force: true });
      res({ code, signal });
    }),
  );

  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(async () => {
      const doing = await whatItWasDoing(child, reports).catch((e: unknown) => `no diagnostic report (${String(e)})`);
      rej(new Error(`gateway did not start in time (${doing}):\n${out}`));
    }, options.timeoutMs ?? 20_000);
    // Off once found: each search flattens all the output so far, a gateway at info writes a line a
    // request, and the searches cost this process quadratic time, taken from the gateway's cores.
    const check = () => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.stderr?.off('data', check);
        res(m[1]);
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    exited.then(() => {
      clearTimeout(timer);
      rej(new Error(`gateway exited before listening:\n${out}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid as number,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
