export * from './bootstrap.js';
export * from './health.controller.js';
export * from './readiness.js';
export * from './task-events.js';
export * from './cancellation.js';
export * from './http-metrics.js';
export * from './cluster-metrics.js';
export * from './public.js';
