import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
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
  /** How long to wait for "listening on"; a cold tsx start takes a second or two. */
  timeoutMs?: number;
}

/**
 * A real gateway process, started the way operators start it (the compiled `gateway/dist/main.js`,
 * built from gateway/src by `pnpm build`),
 * for tests that kill, restart or run several instances.
 */
export async function spawnGateway(options: SpawnOptions): Promise<GatewayProcess> {
  const operatorKey = options.operatorKey ?? `op_${randomBytes(16).toString('hex')}`;
  const child = spawn(process.execPath, [builtGateway(), ...(options.args ?? [])], {
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
    child.once('exit', (code, signal) => res({ code, signal })),
  );

  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`gateway did not start in time:\n${out}`)), options.timeoutMs ?? 30_000);
    const check = () => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
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
