export { PolicyConfigError } from './config-error.js';
export * from './labels.js';
export * from './age-rules.js';
export * from './release-policy.js';
export * from './access-plan.js';
export * from './decide.js';
export { pairwise, uncoveredPairs, type Dimension, type PairwiseRow } from './pairwise.js';
export * from './decision-matrix.js';
