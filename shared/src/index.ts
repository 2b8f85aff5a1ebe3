export * from './admin';
export * from './calendar';
export * from './claims';
export * from './problems';
export * from './responses';
export * from './schemas';
export * from './trust';
export * from './wire';
