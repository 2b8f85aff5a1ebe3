export { type AppDeps, createApp } from './app';
export { type Config, ConfigError, loadConfig, testConfig } from './config';
export { connect } from './db/connect';
export { migrate } from './db/migrate';
export { type RunningGateway, startGateway } from './server';
