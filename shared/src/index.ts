export * from './admin';
export * from './calendar';
export * from './claims';
export * from './ledger';
export * from './problems';
export * from './schemas';
export * from './trust';
export * from './wire';
