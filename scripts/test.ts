/**
 * `pnpm test`: checks that what the suite needs is there (installing Chromium as root, starting a
 * local PostgreSQL that is down), builds, then runs every suite on SQLite and the database-backed
 * suites (test/e2e) again on PostgreSQL, in one vitest run (vitest.config.ts), type-checking beside it.
 * Its last line is `tests: N passed, N failed, N skipped`; every test that did not pass counts as
 * failed, a suite that dies in setup included, and the exit code is 0 exactly when N failed is 0.
 *
 *   pnpm test                 everything
 *   pnpm test:sqlite          without the PostgreSQL pass (no PostgreSQL needed)
 *   pnpm test <files...>      only those files (both passes, where they are database-backed)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureChromium, ensurePostgres, type Preflight } from './preflight';
import { tally, type VitestReport } from './tally';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const sqliteOnly = args.includes('--sqlite-only') || process.env.FLEXGATE_TEST_SKIP_POSTGRES === '1';
const started = Date.now();

function run(cmd: string, cmdArgs: string[]): number {
  // Without the PostgreSQL pass, the few suites that need a PostgreSQL server skip (and say so in the tally).
  const env = sqliteOnly ? { ...process.env, FLEXGATE_TEST_SKIP_POSTGRES: '1' } : process.env;
  return spawnSync(cmd, cmdArgs, { stdio: 'inherit', env }).status ?? 1;
}

function stop(problem: Preflight & { ok: false }): never {
  console.error(`\npnpm test: ${problem.message}`);
  console.log('\ntests: 0 passed, 1 failed, 0 skipped (the suite could not start)');
  process.exit(1);
}

// Only what the chosen files need: the browser suite needs Chromium, the PostgreSQL pass a server.
const wantsBrowser = files.length === 0 || files.some((f) => f.includes('browser'));
if (wantsBrowser) {
  const chromium = ensureChromium();
  if (!chromium.ok) stop(chromium);
}
if (!sqliteOnly) {
  const postgres = await ensurePostgres();
  if (!postgres.ok) stop(postgres);
}

const checks: string[] = [];
console.log('=== build (the CLI bundle) ===');
if (run('pnpm', ['-s', 'build']) !== 0) checks.push('build');
// tsc runs beside the tests, its output held until they end: the suite waits on sockets, timers and
// child processes for much of its run, and 20 s of type-checking fit in those gaps.
const typecheck = new Promise<{ code: number; output: string }>((resolve) => {
  const tsc = spawn('pnpm', ['exec', 'tsc', '-p', 'tsconfig.json', '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  tsc.stdout.on('data', (d) => (output += d));
  tsc.stderr.on('data', (d) => (output += d));
  tsc.on('close', (code) => resolve({ code: code ?? 1, output }));
});

const out = join(mkdtempSync(join(tmpdir(), 'flexgate-results-')), 'vitest.json');
const projects = sqliteOnly ? ['--project', 'sqlite'] : [];
console.log(`\n=== vitest: ${sqliteOnly ? 'SQLite' : 'SQLite, then test/e2e on PostgreSQL'} ===`);
const code = run('pnpm', [
  'exec',
  'vitest',
  'run',
  ...projects,
  ...files,
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${out}`,
]);
console.log('\n=== typecheck (tsc over sources and tests, run beside the tests) ===');
const checked = await typecheck;
process.stdout.write(checked.output);
if (checked.code !== 0) checks.push('typecheck');
else console.log('no type errors');
const report: VitestReport | null = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as VitestReport) : null;
const totals = tally(report, code);

for (const line of totals.notes) console.log(line);
for (const c of checks) console.log(`failed: ${c}`);
const failed = totals.failed + checks.length;
console.log(`\ntook ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`tests: ${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
