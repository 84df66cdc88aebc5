'use strict';
// Seeded randomness for the tests, so that a failure's printed seed reproduces the run: the
// same functions `hardsync crashtest` draws its cut points with (bench/crashtest/seeded.ts).
// Plain CommonJS: the power-cut workloads (test/fixtures/powercut/workloads.cjs) run it in
// child processes without TypeScript, and the test files import it as well.
module.exports = require('../../dist/bench/crashtest/seeded.js');
