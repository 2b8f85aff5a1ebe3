import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A process the bench started (a gateway, the baseline), with the URL it announced. */
export interface Proc {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function start(args: string[], env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no "listening on" from ${args.join(' ')}:\n${out}`)), 60_000);
    const on = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(t);
        // Drained from here on, not searched: a gateway at `--log info` writes a line a request.
        child.stdout?.off('data', on);
        child.stderr?.off('data', on);
        res(m[1]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', () => rej(new Error(`exited early:\n${out}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

/** Seconds of CPU of a /proc stat file (a process, or one of its threads) in the given fields; 0 once it has exited. */
function statSeconds(file: string, fields: readonly number[]): number {
  try {
    const f = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return fields.reduce((s, i) => s + Number(f[i]), 0) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of a /proc stat file (a process, or one of its threads); 0 once it has exited. */
export const procCpu = (file: string): number => statSeconds(file, [11, 12]);

/** The system (kernel) part of `procCpu`: what syscalls, socket writes among them, cost the thread. */
export const procSys = (file: string): number => statSeconds(file, [12]);

/** CPU seconds of each of the local PostgreSQL server's processes so far, by pid. */
export function postgresCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') cpu.set(Number(pid), procCpu(`/proc/${pid}/stat`));
    } catch {
      // a backend that exited meanwhile
    }
  }
  return cpu;
}

/** What the processes of a `postgresCpu()` reading spent since it (a backend that exited in between is lost). */
export const postgresSpent = (before: Map<number, number>, after = postgresCpu()): number =>
  [...after].reduce((sum, [pid, c]) => sum + c - (before.get(pid) ?? 0), 0);
