export * from './scope-grammar.js';
export * from './scope-access.js';
