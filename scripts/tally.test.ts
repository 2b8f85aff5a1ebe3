import { describe, expect, it } from 'vitest';
import { tally, type VitestReport } from './tally';

// The shape vitest 4 writes for these cases (recorded from a real run of three small files).
const report: VitestReport = {
  testResults: [
    {
      name: '/x/setup.test.ts',
      status: 'failed',
      message: '',
      assertionResults: [
        { title: 'a', status: 'skipped' },
        { title: 'b', status: 'skipped' },
      ],
    },
    { name: '/x/import.test.ts', status: 'failed', message: "Cannot find module './nope'", assertionResults: [] },
    {
      name: '/x/ok.test.ts',
      status: 'passed',
      assertionResults: [
        { title: 'd', status: 'passed' },
        { title: 'e', status: 'skipped' },
      ],
    },
    {
      name: '/x/red.test.ts',
      status: 'failed',
      assertionResults: [
        { title: 'f', status: 'failed' },
        { title: 'g', status: 'passed' },
      ],
    },
  ],
};

describe('pnpm test tally', () => {
  it('counts the tests of a suite that died in setup, and a file that could not load, as failed', () => {
    const t = tally(report, 1);
    expect(t).toMatchObject({ passed: 2, failed: 4, skipped: 1 });
    expect(t.notes.join('\n')).toContain('/x/setup.test.ts');
    expect(t.notes.join('\n')).toContain("Cannot find module './nope'");
  });

  it('never says 0 failed when the run failed', () => {
    const green: VitestReport = {
      testResults: [{ name: '/x/ok.test.ts', status: 'passed', assertionResults: [{ title: 'd', status: 'passed' }] }],
    };
    expect(tally(green, 0)).toMatchObject({ passed: 1, failed: 0 });
    expect(tally(green, 1).failed).toBe(1);
    expect(tally(null, 1).failed).toBe(1);
  });
});
