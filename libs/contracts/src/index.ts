export * from './config';
export * from './domain';
export * from './errors';
export * from './messaging';
export * from './roadmap';
