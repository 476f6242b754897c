// Jest runs the TypeScript sources directly (ESM, transpiled by SWC); workspace packages resolve
// to their src/index.ts so tests never depend on a stale build.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } },
    ],
  },
  moduleNameMapper: {
    '^@patient-access/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/scripts/src/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
