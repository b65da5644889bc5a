export * from './client.js';
export * from './follow.js';
export * from './feed.js';
