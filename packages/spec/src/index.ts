/**
 * @hicra/spec: the contracts every hicra package speaks. Types, versioned interfaces over
 * plain typed arrays, registry names, the credit-pipeline config, metric keys, the rollout
 * JSON Lines schema, the error classes, and the rollout-batch validator. No runtime dependency.
 */

export type * from './chat.js';
export type * from './credit.js';
export * from './credit-pipeline-config.js';
export * from './decode-with-spans.js';
export type * from './embedder.js';
export * from './engine.js';
export * from './errors.js';
export * from './format-value.js';
export * from './metrics.js';
export * from './names.js';
export type * from './planning.js';
export * from './plugin-registration.js';
export * from './plugin-registry.js';
export type * from './policy.js';
export type * from './reward.js';
export * from './rollout-batch.js';
export * from './rollout-record.js';
export type * from './rollout-source.js';
export * from './span-units.js';
export * from './standard-schema.js';
export type * from './tokenizer.js';
export * from './validate-datums.js';
export * from './validate-rollout-batch.js';
