/**
 * `pnpm test`: type-check, then the whole suite on SQLite, then every database-backed suite again on
 * PostgreSQL (STYLE.md: "every database suite run once per dialect"). Ends with one plain line,
 * `tests: N passed, N failed, N skipped`, and a non-zero exit when anything failed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const skipPg = args.includes('--sqlite-only') || process.env.FLEXGATE_TEST_SKIP_POSTGRES === '1';
const out = mkdtempSync(join(tmpdir(), 'flexgate-results-'));

function run(cmd: string, cmdArgs: string[], env: Record<string, string> = {}): number {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}
const totals: Totals = { passed: 0, failed: 0, skipped: 0 };
const failedSteps: string[] = [];

function vitest(label: string, files: string[], env: Record<string, string>): void {
  const file = join(out, `${label}.json`);
  console.log(`\n=== ${label} ===`);
  const code = run('pnpm', ['exec', 'vitest', 'run', ...files, '--reporter=default', '--reporter=json', `--outputFile.json=${file}`], env);
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    totals.skipped += r.numPendingTests + r.numTodoTests;
  } catch {
    totals.failed += 1; // the run died before writing results
  }
  if (code !== 0) failedSteps.push(label);
}

console.log('=== typecheck (tsc over sources and tests) ===');
if (run('pnpm', ['exec', 'tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) failedSteps.push('typecheck');

vitest('sqlite', only, { FLEXGATE_TEST_DATABASE: 'sqlite' });
if (!skipPg) {
  // Only suites that talk to a database run twice; pure unit tests would just repeat themselves.
  const pgFiles = only.length > 0 ? only : ['test/e2e'];
  vitest('postgres', pgFiles, { FLEXGATE_TEST_DATABASE: 'postgres' });
}

if (failedSteps.length > 0) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failedSteps.length > 0 || totals.failed > 0 ? 1 : 0);
