import { setFlagsFromString } from 'node:v8';
import { failedMessage, isCheckSchemaMessage, isClusterWorker, listeningMessage, runPrimary } from './cluster';
import { ConfigError, EXIT_NEWER_SCHEMA, helpText, readCommand } from './config';
import { backupSqlite } from './db/backup';
import { jsonLogger, stdoutLines } from './lib/logger';
import { startGateway } from './server';

/** The only file that touches `process`: environment and arguments in, signals handled, exit codes out. */
async function main(): Promise<void> {
  // V8 lets the old generation grow to up to 4x its live size before a full collection when the
  // machine has memory to spare: RSS was then mostly uncollected garbage and swung from run to run
  // (BENCHMARKS.md). 1.5x keeps the heap near what is live, for a few more (concurrent) full
  // collections. Read by V8 at each collection, so setting it here takes effect.
  setFlagsFromString('--heap-growing-percent=50');
  const command = readCommand(process.argv.slice(2), process.env);
  if (command.help) {
    process.stdout.write(helpText());
    return;
  }
  const { config } = command;
  if (command.backup !== undefined) {
    process.exitCode = backup(config.databaseUrl, command.backup);
    return;
  }
  const logger = jsonLogger(config.logLevel);
  // The last turn's lines, which would otherwise wait for a turn that never comes.
  process.on('exit', () => stdoutLines().flushNow());

  // --cluster N: this process only forks and supervises N workers (cluster.ts); each worker runs
  // this same file and takes the branch below.
  if (config.cluster > 0 && !isClusterWorker()) {
    if (config.testClock)
      logger.warn('FLEXGATE_TEST_CLOCK with --cluster: every worker has its own clock; POST /v1/test/clock moves only one');
    runPrimary({
      workers: config.cluster,
      logger,
      announce: (line) => process.stderr.write(`${line}\n`),
      report: (problems) => process.stderr.write(problems.map((p) => `flexgate: ${p}\n`).join('')),
      onSignal: (signal, handler) => process.on(signal, handler),
      exit: (code) => process.exit(code),
    });
    return;
  }

  // A SIGTERM or Ctrl-C while the gateway starts (migrating, loading keys) is kept and acted on once
  // it has started, as a drain and exit 0; a second one does not wait.
  let early: string | null = null;
  const duringStart = (signal: NodeJS.Signals) => {
    if (early !== null) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    early = signal;
    logger.info('stop asked while starting: it stops once started', { signal });
  };
  process.on('SIGTERM', duringStart);
  process.on('SIGINT', duringStart);
  const gateway = await startGateway(config, { logger });
  process.off('SIGTERM', duringStart);
  process.off('SIGINT', duringStart);
  const engine = gateway.database.engine;
  const worker = isClusterWorker() && process.send !== undefined;
  if (worker) {
    // The primary prints "listening on" once every worker listens.
    logger.info('worker listening', { url: gateway.url, engine, pid: process.pid });
    process.send?.(listeningMessage(gateway.url, engine));
  } else {
    logger.info(`listening on ${gateway.url}`, {
      engine,
      operatorRoutes: config.operatorKey ? 'enabled' : 'disabled (no FLEXGATE_OPERATOR_KEY)',
    });
    // Plain line too, for people and scripts that wait for it (CONTRACT: "listening on http://HOST:PORT").
    process.stderr.write(`flexgate listening on ${gateway.url} (${engine})\n`);
  }

  let stopping = false;
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    gateway
      .close()
      .then(() => process.exit(code))
      .catch((e) => {
        logger.error('shutdown failed', { err: String(e) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (early !== null) stop(early);
  // A worker whose primary is gone (killed with SIGKILL) would serve on, unsupervised: stop too.
  if (worker) process.on('disconnect', () => stop('primary gone'));
  // The gateway already refuses requests and is closing (server.ts): a supervisor restarting it on
  // this distinct code meets the start's refusal (exit 2) until this instance is upgraded.
  gateway.newerSchema.then(() => stop('newer schema', EXIT_NEWER_SCHEMA));
  // Another worker stopped for it: this one need not wait for its own next check.
  if (worker) process.on('message', (m) => isCheckSchemaMessage(m) && gateway.checkSchema());
}

/** `backup FILE`: the copy and what its checks found, on stdout; 1 when a check failed (the copy is kept). */
function backup(databaseUrl: string, to: string): number {
  if (!databaseUrl.startsWith('sqlite:') || databaseUrl === 'sqlite::memory:') {
    const pg = databaseUrl.startsWith('postgres');
    throw new ConfigError([
      pg
        ? 'backup copies a SQLite database; DATABASE_URL names PostgreSQL: back it up with pg_dump (pg_dump -Fc "$DATABASE_URL" > FILE), which copies a live database consistently'
        : `backup copies a SQLite file; DATABASE_URL=${databaseUrl} names none`,
    ]);
  }
  const report = backupSqlite(databaseUrl.slice('sqlite:'.length), to);
  const lines = [
    `backup written: ${report.to} (${report.bytes} bytes, schema ${report.schema}, ${plural(report.teams, 'team')}, ${plural(report.entries, 'ledger entry', 'ledger entries')})`,
    ...(report.problems.length === 0
      ? ["checked: SQLite's integrity check passed and every team's ledger chains to its recorded head"]
      : [
          `the copy FAILED ${report.problems.length} check(s), so the database it was taken from has them too:`,
          ...report.problems.map((p) => `  ${p}`),
        ]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return report.problems.length === 0 ? 0 : 1;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

main().catch((error: unknown) => {
  // A configuration problem is the operator's to fix: one line each, no stack trace, exit 2. A
  // cluster worker hands it to the primary, which prints it once for all the workers.
  if (error instanceof ConfigError) {
    const send = process.send?.bind(process);
    if (isClusterWorker() && send) {
      send(failedMessage(error.problems), undefined, {}, () => process.exit(2));
      return;
    }
    process.stderr.write(error.problems.map((p) => `flexgate: ${p}\n`).join(''));
    process.exit(2);
  }
  // Anything else is a bug: its stack trace is what the report needs.
  process.stderr.write(`flexgate failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
