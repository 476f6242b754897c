export { HoldValidationError, type HoldErrorCode, type HoldRuleId, type ResourceKey } from './errors.js';
export * from './hold-items.js';
export * from './harm-holds.js';
export * from './data-quality-holds.js';
export * from './patient-delays.js';
export * from './legal-hold-rules.js';
export * from './conditional-holds.js';
