import { ConfigError, loadConfig } from './config';
import { jsonLogger } from './lib/logger';
import { startGateway } from './server';

/** The only file that touches `process`: environment in, signals handled, exit codes out. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`flexgate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = jsonLogger(config.logLevel);
  const gateway = await startGateway(config, { logger });
  const engine = gateway.database.engine;
  logger.info(`listening on ${gateway.url}`, { engine, operatorRoutes: config.operatorKey ? 'enabled' : 'disabled (no FLEXGATE_OPERATOR_KEY)' });
  // Plain line too, for people and scripts that wait for it (CONTRACT: "listening on http://HOST:PORT").
  process.stderr.write(`flexgate listening on ${gateway.url} (${engine})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    gateway
      .close()
      .then(() => process.exit(0))
      .catch((e) => {
        logger.error('shutdown failed', { err: String(e) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`flexgate failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
