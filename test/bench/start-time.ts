/**
 * `node --import tsx test/bench/start-time.ts [starts]`: how long `node gateway/dist/main.js` (what
 * operators run, `pnpm build` first) takes to listen, on a fresh SQLite file each time: the wall
 * time to its "listening on" line and the CPU the process used until then (all its threads).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtGateway } from '../harness/built-gateway';
import { procCpu } from './proc';

const starts = Number(process.argv[2] ?? 5);
const rows: { wall: number; cpu: number }[] = [];
for (let i = 0; i < starts; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'fg-start-'));
  const began = performance.now();
  const child = spawn(process.execPath, [builtGateway()], {
    env: { ...process.env, PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, FLEXGATE_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const wall = await new Promise<number>((resolve, reject) => {
    let said = '';
    child.stderr?.on('data', (d: Buffer) => {
      said += d;
      if (said.includes('listening on')) resolve(performance.now() - began);
    });
    child.once('exit', () => reject(new Error(`exited before listening:\n${said}`)));
  });
  const cpu = procCpu(`/proc/${child.pid}/stat`) * 1000;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
  rows.push({ wall, cpu });
  console.log(`start ${i + 1}: ${wall.toFixed(0)} ms to listening, ${cpu.toFixed(0)} ms of CPU`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(
  `median: ${median(rows.map((r) => r.wall)).toFixed(0)} ms to listening, ${median(rows.map((r) => r.cpu)).toFixed(0)} ms of CPU`,
);
