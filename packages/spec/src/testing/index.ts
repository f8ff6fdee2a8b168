/**
 * @hicra/spec/testing: conformance suites for implementations of the contracts, and assertions
 * on the errors hicra code throws, free of any test runner (they return reports or throw plain
 * errors), so tests under vitest, node:test or jest can use them.
 */
export {
  assertEngineConformance,
  type ConformanceCheck,
  type ConformanceReport,
  ENGINE_CONFORMANCE_CHECKS,
  type EngineConformanceCheckName,
  type EngineConformanceOptions,
  type EngineFactory,
  type EngineUnderTest,
  runEngineConformance,
} from './engine-conformance.js';
export {
  type BadInputCase,
  expectHicraError,
  expectHicraRejection,
  type HicraErrorClass,
  type HicraErrorExpectation,
} from './expect-hicra-error.js';
