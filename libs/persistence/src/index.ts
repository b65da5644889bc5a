export * from './data-source.js';
export * from './entities/index.js';
export * from './migrations/index.js';
export * from './persistence.module.js';
export * from './sql.js';
export * from './llm-usage.js';
export * from './maintenance/log-partitions.js';
export * from './maintenance/retention.js';
