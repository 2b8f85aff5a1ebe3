#!/usr/bin/env node
// The client ships as TypeScript run through tsx (no build step); this shim registers tsx's
// loader and hands the process's argv, environment and streams to the CLI.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli.ts');
const stopHandlers = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const stop of stopHandlers) stop();
  });
}
try {
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    stdout: process.stdout,
    stderr: process.stderr,
    onInterrupt: (handler) => stopHandlers.push(handler),
  });
} catch (err) {
  process.stderr.write(`flexgate: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
