export * from './claims';
export * from './problems';
export * from './schemas';
export * from './wire';
export * from './admin';
