export * from './config.js';
export * from './domain.js';
export * from './errors.js';
export * from './messaging.js';
export * from './roadmap.js';
export * from './webhooks.js';
export * from './task-types.js';
export * from './admin-bulk.js';
