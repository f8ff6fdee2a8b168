/**
 * @hicra/spec/testing: conformance suites for implementations of the contracts, free of any
 * test runner (they return reports or throw plain errors), so any engine's tests can run them.
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
