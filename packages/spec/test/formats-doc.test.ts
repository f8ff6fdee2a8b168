import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ASSIGNER_NAMES,
  ErrorCode,
  ESTIMATOR_NAMES,
  EVAL_METRIC_KEYS,
  KL_ESTIMATOR_NAMES,
  LOSS_AGGREGATION_MODES,
  PLANNING_CLASSIFIER_NAMES,
  REWARD_NAMES,
  ROLLOUT_SCHEMA_V1,
  TRAIN_METRIC_KEYS,
} from '../src/index.js';

// docs/formats.md is the written contract; it must name everything the code defines.
const doc = readFileSync(new URL('../../../docs/formats.md', import.meta.url), 'utf8');

describe('docs/formats.md', () => {
  it.each([
    ['train metric keys', Object.values(TRAIN_METRIC_KEYS)],
    ['eval metric keys', Object.values(EVAL_METRIC_KEYS)],
    ['estimator names', ESTIMATOR_NAMES],
    ['assigner names', ASSIGNER_NAMES],
    ['planning classifier names', PLANNING_CLASSIFIER_NAMES],
    ['reward names', REWARD_NAMES],
    ['loss aggregation modes', LOSS_AGGREGATION_MODES],
    ['KL estimators', KL_ESTIMATOR_NAMES],
    ['error codes', Object.values(ErrorCode)],
    ['rollout schema', [ROLLOUT_SCHEMA_V1]],
  ] as const)('documents every one of the %s', (_kind, names) => {
    const missing = names.filter(
      (name) => !doc.includes(`\`${name}\``) && !doc.includes(`"${name}"`),
    );
    expect(missing).toEqual([]);
  });

  it('has unique metric keys', () => {
    const keys = [...Object.values(TRAIN_METRIC_KEYS), ...Object.values(EVAL_METRIC_KEYS)];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
