/**
 * The process's side of the CLI (the entry of the bundle, dist/flexgate.js, that
 * bin/flexgate.js loads): argv, environment, standard streams and signals, handed to runCli.
 */
import { runCli } from './cli';

const stopHandlers: (() => void)[] = [];
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Nothing running to close cleanly (e.g. a launch still retrying): stop as node would.
    if (stopHandlers.length === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
    for (const stop of stopHandlers) stop();
  });
}
try {
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    onInterrupt: (handler) => stopHandlers.push(handler),
  });
} catch (err) {
  process.stderr.write(`flexgate: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
