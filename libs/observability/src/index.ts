export * from './execution-logger.js';
export * from './logger.js';
export * from './metrics.js';
export * from './tracing.js';
