/**
 * The seeded Qwen3 model folder (Hugging Face layout: config.json + model.safetensors, F32) and
 * the seeded token ids of the hf-model benchmark. The TypeScript side writes them once; the
 * PyTorch peer reads the same files, so both sides compute with identical weights and inputs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SafetensorsTensorInput, writeSafetensorsFile } from '@hicra/policy';
import { SeededGenerator } from '@hicra/tensor';

export const HF_SEED = 20_251_207;

/** The architecture: Qwen3's shape, scaled down (Qwen3-0.6B: 1024 wide, 28 layers, 151,936 ids). */
export interface Qwen3Shape {
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** Per head; like Qwen3 it is not hidden / heads here. */
  readonly headDim: number;
  readonly intermediate: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly maxPositions: number;
}

export const QWEN3_SHAPE: Qwen3Shape = {
  vocab: 32_000,
  hidden: 512,
  layers: 6,
  heads: 8,
  kvHeads: 4,
  headDim: 128,
  intermediate: 1536,
  ropeTheta: 1_000_000,
  rmsNormEps: 1e-6,
  maxPositions: 4096,
};

/** The work: P prompts of S tokens; scoring of one response of T tokens per prompt; greedy sampling of N new tokens per prompt. */
export interface Workload {
  readonly prompts: number;
  readonly promptLength: number;
  readonly scoreTokens: number;
  readonly newTokens: number;
}

export const WORKLOAD: Workload = { prompts: 8, promptLength: 16, scoreTokens: 256, newTokens: 64 };

/** config.json as transformers' Qwen3Config writes it (the keys of the golden fixture qwen3-qknorm). */
export function qwen3Config(shape: Qwen3Shape): Record<string, unknown> {
  return {
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: shape.vocab - 2,
    eos_token_id: shape.vocab - 1,
    head_dim: shape.headDim,
    hidden_act: 'silu',
    hidden_size: shape.hidden,
    initializer_range: 0.02,
    intermediate_size: shape.intermediate,
    layer_types: Array.from({ length: shape.layers }, () => 'full_attention'),
    max_position_embeddings: shape.maxPositions,
    max_window_layers: shape.layers,
    model_type: 'qwen3',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    num_key_value_heads: shape.kvHeads,
    rms_norm_eps: shape.rmsNormEps,
    rope_scaling: null,
    rope_theta: shape.ropeTheta,
    sliding_window: null,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    transformers_version: '4.55.0',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: shape.vocab,
  };
}

/** Name and shape of every tensor (PyTorch layout: a Linear weight is [out, in]); tied, so no lm_head. */
export function qwen3TensorShapes(shape: Qwen3Shape): [string, number[]][] {
  const { hidden, heads, kvHeads, headDim, intermediate } = shape;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [shape.vocab, hidden]]];
  for (let i = 0; i < shape.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [hidden]],
      [`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden]],
      [`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden]],
      [`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden]],
      [`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim]],
      [`${p}.self_attn.q_norm.weight`, [headDim]],
      [`${p}.self_attn.k_norm.weight`, [headDim]],
      [`${p}.post_attention_layernorm.weight`, [hidden]],
      [`${p}.mlp.gate_proj.weight`, [intermediate, hidden]],
      [`${p}.mlp.up_proj.weight`, [intermediate, hidden]],
      [`${p}.mlp.down_proj.weight`, [hidden, intermediate]],
    );
  }
  shapes.push(['model.norm.weight', [hidden]]);
  return shapes;
}

export function parameterCountOf(shape: Qwen3Shape): number {
  return qwen3TensorShapes(shape).reduce((sum, [, dims]) => sum + dims[0]! * (dims[1] ?? 1), 0);
}

/**
 * Seeded weights, each tensor from its own stream of one seed, generated only when the writer
 * asks for it. As in the golden fixtures: the embedding ~ N(0, 0.02), every norm weight
 * 1 + N(0, 0.2); the projections ~ N(0, 1/in_features) so that activations keep their scale at
 * this width (the fixtures' N(0, 0.1) is that scale at width 48-80).
 */
export function qwen3Tensors(
  shape: Qwen3Shape,
  seed = HF_SEED,
): Map<string, SafetensorsTensorInput> {
  const root = new SeededGenerator(seed);
  const entries = new Map<string, SafetensorsTensorInput>();
  for (const [name, dims] of qwen3TensorShapes(shape)) {
    const stream = root.split();
    const size = dims[0]! * (dims[1] ?? 1);
    const data = () => {
      if (name === 'model.embed_tokens.weight') {
        return stream.fillNormal(new Float32Array(size), 0, 0.02);
      }
      if (dims.length === 1) return stream.fillNormal(new Float32Array(size), 1, 0.2);
      return stream.fillNormal(new Float32Array(size), 0, 1 / Math.sqrt(dims[1]!));
    };
    entries.set(name, { dtype: 'F32', shape: dims, data });
  }
  return entries;
}

/** Writes config.json and model.safetensors into `dir`; returns the file's size in bytes. */
export async function writeQwen3Folder(
  dir: string,
  shape: Qwen3Shape,
  seed = HF_SEED,
): Promise<void> {
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(qwen3Config(shape), null, 2)}\n`);
  await writeSafetensorsFile(join(dir, 'model.safetensors'), qwen3Tensors(shape, seed), {
    format: 'pt',
  });
}

/** Candidate prompts per prompt slot, and the smallest greedy top-1 / top-2 margin wanted. */
export const PROMPT_CANDIDATES = 8;
export const MIN_GREEDY_MARGIN = 1e-3;

export interface TokenInputs {
  /**
   * `[K·P·S]` candidate prompt ids: candidate k of slot p is `[(k·P + p)·S, (k·P + p + 1)·S)`.
   * The peer picks one candidate per slot (see `pickedPrompts`).
   */
  readonly candidates: Int32Array;
  /** `[P·T]` the responses to score, one per prompt slot. */
  readonly responses: Int32Array;
}

/** Token ids uniform over the vocabulary, from their own streams of `seed`. */
export function tokenInputs(shape: Qwen3Shape, work: Workload, seed = HF_SEED + 1): TokenInputs {
  const root = new SeededGenerator(seed);
  const promptStream = root.split();
  const responseStream = root.split();
  const ids = (stream: SeededGenerator, n: number) =>
    Int32Array.from({ length: n }, () => stream.nextInt(shape.vocab));
  return {
    candidates: ids(promptStream, PROMPT_CANDIDATES * work.prompts * work.promptLength),
    responses: ids(responseStream, work.prompts * work.scoreTokens),
  };
}

/** The prompts `[P·S]` and their offsets, candidate `indices[p]` for slot p. */
export function pickedPrompts(
  inputs: TokenInputs,
  work: Workload,
  indices: readonly number[],
): { tokenIds: Int32Array; offsets: Int32Array } {
  const { prompts: P, promptLength: S } = work;
  if (indices.length !== P) throw new Error(`expected ${P} prompt choices, got ${indices.length}`);
  const tokenIds = new Int32Array(P * S);
  indices.forEach((k, p) => {
    if (!Number.isInteger(k) || k < 0 || k >= PROMPT_CANDIDATES) {
      throw new Error(`prompt slot ${p}: candidate ${k} does not exist`);
    }
    tokenIds.set(inputs.candidates.subarray((k * P + p) * S, (k * P + p + 1) * S), p * S);
  });
  return { tokenIds, offsets: Int32Array.from({ length: P + 1 }, (_, p) => p * S) };
}

function write(dir: string, name: string, array: ArrayBufferView): void {
  writeFileSync(join(dir, name), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
}

/** The inputs and meta.json that the peer reads. */
export function writeTokenInputs(
  dir: string,
  modelDir: string,
  work: Workload,
  inputs: TokenInputs,
  seeds: { weights: number; tokens: number },
): void {
  write(dir, 'prompt_candidates.bin', inputs.candidates);
  write(dir, 'responses.bin', inputs.responses);
  const meta = {
    modelDir,
    seeds,
    prompts: {
      candidatesFile: 'prompt_candidates.bin',
      candidates: PROMPT_CANDIDATES,
      count: work.prompts,
      length: work.promptLength,
      minMargin: MIN_GREEDY_MARGIN,
    },
    score: { file: 'responses.bin', batchSize: work.prompts, seqLen: work.scoreTokens },
    sample: { maxNewTokens: work.newTokens, samplesPerPrompt: 1, temperature: 0 },
    byteOrder: 'little-endian',
  };
  writeFileSync(
    join(dir, 'meta.json'),
    `${JSON.stringify(meta, null, 2)}
`,
  );
}
