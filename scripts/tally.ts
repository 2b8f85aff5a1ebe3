/** The shape of vitest's JSON report (jest-compatible) that the tally reads. */
export interface VitestReport {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { status: string; fullName?: string; title: string }[];
  }[];
}

export interface Totals {
  passed: number;
  failed: number;
  skipped: number;
  /** One line per file that failed outside its tests (setup, import), for the reader. */
  notes: string[];
}

/**
 * Counts a report so that the totals never hide a failure. A file that fails outside its tests
 * (a `beforeAll` that throws, an import that fails) reports its tests as skipped or reports none:
 * each of them counts as failed, and a file without any counts as one failure. A run that ended
 * badly without a report, or with an error the report does not show, counts as one more.
 */
export function tally(report: VitestReport | null, exitCode: number): Totals {
  const t: Totals = { passed: 0, failed: 0, skipped: 0, notes: [] };
  if (!report) {
    t.failed = 1;
    t.notes.push(`failed: vitest wrote no report (exit code ${exitCode})`);
    return t;
  }
  for (const file of report.testResults) {
    const brokenFile = file.status === 'failed';
    let failedHere = 0;
    for (const a of file.assertionResults) {
      if (a.status === 'passed') t.passed += 1;
      else if (a.status === 'failed' || brokenFile) failedHere += 1;
      else t.skipped += 1;
    }
    if (brokenFile && failedHere === 0) failedHere = 1;
    t.failed += failedHere;
    const setupFailed = brokenFile && !file.assertionResults.some((a) => a.status === 'failed');
    if (setupFailed) {
      const why = (file.message ?? '').split('\n')[0] || 'failed outside its tests (setup or teardown)';
      t.notes.push(`failed: ${file.name}: ${why}`);
    }
  }
  if (exitCode !== 0 && t.failed === 0) {
    t.failed = 1;
    t.notes.push(`failed: vitest exited with code ${exitCode} without a failed test (an error outside the tests; see above)`);
  }
  return t;
}
