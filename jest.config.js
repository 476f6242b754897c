// Jest runs the TypeScript sources directly as ESM (ts-jest, transpile-only: `npm test` type-checks
// with tsc first); workspace packages resolve to their src/index.ts so tests never use a stale build.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@patient-access/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/scripts/src/**/*.test.ts', '<rootDir>/conformance/src/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
