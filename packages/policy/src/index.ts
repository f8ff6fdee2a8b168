/**
 * @hicra/policy: a decoder-only transformer policy for RL on language models: training forward,
 * teacher-forced scoring, seeded KV-cache sampling, tokenizers and checkpoints.
 */
export {
  parameterCount,
  parameterShapes,
  resolveTransformerConfig,
  type TransformerConfig,
  type TransformerConfigInput,
} from './model/config.js';
export { layoutSequences, type SequenceLayout } from './model/layout.js';
export {
  type ForwardInput,
  type ForwardOutput,
  type LayerCache,
  Transformer,
} from './model/transformer.js';
export { sampleToken, type TokenSamplingOptions } from './sampling.js';
export { TransformerPolicy, type TransformerPolicyOptions } from './transformer-policy.js';
