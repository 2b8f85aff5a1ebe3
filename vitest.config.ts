import { defineConfig } from 'vitest/config';

/**
 * One run, two projects: every suite on SQLite, and the database-backed suites (test/e2e) again on
 * PostgreSQL. One shared pool of workers: most suites wait on sockets, child processes and the
 * database, so more workers than cores keep both cores busy (vitest's default is cores - 1 = 1 here).
 * Files share their worker's modules (`isolate: false`): the gateway's sources are imported once per
 * worker, not once per file (BENCHMARKS.md, session 24). So no shared module may keep per-file
 * state (test/harness/db.ts reads the engine at each call; test/e2e/passes.test.ts checks it).
 */
const shared = { testTimeout: 30_000, hookTimeout: 60_000 };
const ignored = ['**/node_modules/**', 'test/bench/**', '**/dist/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    isolate: false,
    maxWorkers: Number(process.env.FLEXGATE_TEST_WORKERS ?? 4),
    // The tests of each file in a shuffled order, the same every run (a failure reproduces): a test
    // that leans on what the one above it left fails here. A describe whose order is its subject
    // says so with { shuffle: false }.
    sequence: { shuffle: { files: false, tests: true }, seed: 38 },
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { ...shared, name: 'sqlite', include: ['**/*.test.ts'], exclude: ignored, env: { FLEXGATE_TEST_DATABASE: 'sqlite' } },
      },
      {
        extends: true,
        test: {
          ...shared,
          name: 'postgres',
          include: ['test/e2e/**/*.test.ts'],
          // `*.once.test.ts`: nothing in it depends on the engine under test.
          exclude: [...ignored, '**/*.once.test.ts'],
          env: { FLEXGATE_TEST_DATABASE: 'postgres' },
        },
      },
    ],
  },
});
