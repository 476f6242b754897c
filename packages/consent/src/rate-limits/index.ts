export * from './policies.js';
export * from './rate-limits.js';
export * from './rate-limit-settings.js';
