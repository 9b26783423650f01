/** Tests live in test/<layer>/; they run against the TypeScript sources via ts-jest. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 120000,
  // Builds dist/ for the CLI tests in test/bin, which run dist/bin/*.js.
  globalSetup: '<rootDir>/test/globalSetup.ts',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: { warnOnly: false } }] },
};
