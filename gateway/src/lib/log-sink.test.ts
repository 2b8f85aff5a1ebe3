import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { lineSink } from './log-sink';

const SINK = join(import.meta.dirname, 'log-sink.ts');
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', resolve));
const linesOf = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { seq?: number; from?: string; msg?: string; lines?: number });

describe('log lines on a pipe', () => {
  it('a reader that stalls holds at most the bound; what was dropped is counted in a line of its own, the rest arrives whole and in order', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fg-sink-'));
    const go = join(dir, 'go');
    const out = join(dir, 'out');
    // A real pipe whose reader starts only when told: a log shipper that stalled.
    const reader = spawn('sh', ['-c', `while [ ! -e ${go} ]; do sleep 0.02; done; exec cat > ${out}`], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const pipe = reader.stdin;
    if (!pipe) throw new Error('no pipe');
    const bound = 64 * 1024;
    const sink = lineSink(pipe, bound);
    let seq = 0;
    let mostHeld = 0;
    const line = () => `${JSON.stringify({ seq: seq++, msg: 'request', pad: 'x'.repeat(seq % 150) })}\n`;
    for (let i = 0; i < 20_000; i++) {
      sink.write(line());
      mostHeld = Math.max(mostHeld, pipe.writableLength);
    }
    // The turn ends: what was gathered is handed on, still without a reader.
    await sleep(50);
    expect(sink.dropped, 'lines past the bound are dropped while the reader stalls').toBeGreaterThan(10_000);
    // One write at a time in the stream, however far behind the reader is.
    expect(mostHeld).toBeLessThanOrEqual(4096);

    writeFileSync(go, '');
    // Once the reader catches up, the count is said before the next lines.
    for (let i = 0; i < 500 && !(existsSync(out) && readFileSync(out, 'utf8').includes('log lines dropped')); i++) {
      sink.write(line());
      await sleep(10);
    }
    pipe.end();
    await exited(reader);

    const got = linesOf(out);
    const data = got.filter((l) => l.seq !== undefined).map((l) => l.seq as number);
    const said = got.filter((l) => l.msg === 'log lines dropped: the log reader fell behind');
    expect(said.length).toBeGreaterThanOrEqual(1);
    expect(
      data.every((s, i) => i === 0 || s > (data[i - 1] as number)),
      'in the order written',
    ).toBe(true);
    expect(data.length + said.reduce((n, l) => n + (l.lines ?? 0), 0), 'every line arrived or was counted').toBe(seq);
    expect(sink.dropped).toBe(said.reduce((n, l) => n + (l.lines ?? 0), 0));
    // The first lines made it: the bound is what waits, not what is written.
    expect(data[0]).toBe(0);
  });

  it('two processes logging on one slow pipe: no line is cut by the other', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fg-sink-'));
    const out = join(dir, 'out');
    const child = join(dir, 'child.mts');
    // Lines of every length up to a few hundred bytes, in bursts of many a turn, as a busy gateway writes.
    writeFileSync(
      child,
      `import { lineSink } from ${JSON.stringify(SINK)};
const sink = lineSink(process.stdout);
const from = process.argv[2];
let seq = 0;
for (let turn = 0; turn < 200; turn++) {
  for (let i = 0; i < 100; i++) sink.write(JSON.stringify({ from, seq: seq++, pad: 'y'.repeat((seq * 37) % 400) }) + '\\n');
  await new Promise((r) => setImmediate(r));
}
`,
    );
    // The reader starts late, so the pipe is full and both writers wait on it.
    const run = spawn('sh', ['-c', `(node --import tsx ${child} a & node --import tsx ${child} b & wait) | (sleep 0.5; cat > ${out})`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    expect(await exited(run)).toBe(0);
    const got = linesOf(out);
    for (const from of ['a', 'b']) {
      const seqs = got.filter((l) => l.from === from).map((l) => l.seq);
      expect(seqs, `every line of ${from}, whole and in order`).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    }
  }, 30_000);
});
