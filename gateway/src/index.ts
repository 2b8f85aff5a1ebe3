export { createApp, type AppDeps } from './app';
export { loadConfig, testConfig, type Config } from './config';
export { startGateway, type RunningGateway } from './server';
export { connect } from './db/connect';
export { migrate } from './db/migrate';
