export * from './restriction-store.js';
