// Tests are compiled by tsc with the rest of the project (npm test builds first), so jest
// runs plain JavaScript from dist/ and needs no transformer.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testTimeout: 30000,
};
