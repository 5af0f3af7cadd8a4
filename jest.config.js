/** Unit tests are pure and fast; integration tests start a real Temporal dev server. */
const transform = {
  // The examples are plain ES modules (.mjs) a user runs with node; jest needs them as CommonJS.
  '^.+\\.mjs$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
  // hyparquet(-writer) ship ES modules only; Node 20 loads them with require(), jest needs them as CommonJS.
  '^.+/node_modules/hyparquet(-writer)?/.+\\.js$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
};
const transformIgnorePatterns = ['/node_modules/(?!hyparquet)'];
module.exports = {
  projects: [
    { displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'], transform, transformIgnorePatterns, testEnvironment: 'node', globalSetup: '<rootDir>/tests/unit/global-setup.ts' },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/tests/integration/global-setup.ts',
    },
  ],
};
