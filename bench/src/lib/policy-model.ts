/**
 * The transformer every policy-level benchmark measures (`bench:policy`, `bench:rl-step`,
 * `bench:serve`), less its vocabulary, which each takes from a flag. The PyTorch peers build
 * the same model from the configuration the benchmark writes.
 */
export const POLICY_MODEL = {
  contextLength: 128,
  width: 128,
  layers: 2,
  heads: 4,
  mlp: 'gelu',
  norm: 'layernorm',
} as const;
