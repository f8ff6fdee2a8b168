/**
 * @hicra/remote: engines over HTTP. A Tinker training-protocol client (`TrainingClientV1` /
 * `SamplingClientV1` of `@hicra/spec` against a Tinker-compatible server such as verl's
 * `verl_tinker`), an OpenAI-compatible sampling client and rollout source (vLLM, SGLang), and
 * servers for both protocols over any implementation of the contracts. Imports `@hicra/spec`
 * alone.
 */

/** The protocol versions this package speaks. */
export const REMOTE_PROTOCOLS = {
  /** Tinker's JSON protocol, as SDKs up to 0.24 send it and `verl_tinker` serves it. */
  tinker: 'tinker-json (SDK <= 0.24)',
  /** OpenAI-compatible completions, as vLLM and SGLang serve them. */
  openai: 'openai-completions (vLLM, SGLang)',
} as const;

export * from './http/index.js';
// OpenAI-compatible (vLLM, SGLang) sampling client, rollout source and completions server.
export * from './openai/index.js';
export * from './tinker/index.js';
