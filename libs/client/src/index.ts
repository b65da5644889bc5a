export * from './client.js';
export * from './follow.js';
