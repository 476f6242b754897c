export * from './policies.js';
export * from './rate-limits.js';
