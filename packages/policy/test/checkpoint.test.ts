import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptFileError, ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { tf } from '@hicra/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createWordTokenizer,
  loadCheckpoint,
  recoverCheckpointSwap,
  saveCheckpoint,
  TransformerPolicy,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-checkpoint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tokenizer = createWordTokenizer({
  vocabulary: ['use', 'to', 'make', 'answer', ':', '3', '8', '24', '*'],
});
const config = {
  vocabSize: tokenizer.vocabSize,
  contextLength: 32,
  width: 16,
  layers: 2,
  heads: 2,
  mlp: 'swiglu' as const,
  norm: 'rmsnorm' as const,
};

describe('policy checkpoints', () => {
  it('round-trip bit-exactly with the tokenizer and metadata', async () => {
    const policy = TransformerPolicy.create(config, { seed: 4 });
    const dir = join(root, 'round-trip');
    await saveCheckpoint(dir, policy, { tokenizer, metadata: { step: '12', task: 'countdown' } });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.metadata).toEqual({ step: '12', task: 'countdown' });
    expect(loaded.policy.config).toEqual(policy.config);
    for (const [name, variable] of policy.model.parameters()) {
      expect(Buffer.from(loaded.policy.model.parameters().get(name)!.dataSync().buffer)).toEqual(
        Buffer.from(variable.dataSync().buffer),
      );
    }
    expect(loaded.tokenizer!.encode('use 3 * 8 to make 24').ids).toEqual(
      tokenizer.encode('use 3 * 8 to make 24').ids,
    );
    tf.tidy(() => {
      const ids = Int32Array.of(1, 4, 9, 11, 10);
      expect(loaded.policy.fullLogits(ids, 1, 5).dataSync()).toEqual(
        policy.fullLogits(ids, 1, 5).dataSync(),
      );
    });
    loaded.policy.dispose();
    policy.dispose();
  });

  it('replaces an existing checkpoint, keeping files it does not own', async () => {
    const dir = join(root, 'replace');
    const first = TransformerPolicy.create(config, { seed: 1 });
    await saveCheckpoint(dir, first);
    writeFileSync(join(dir, 'trainer-state.json'), '{"step":3}');
    writeFileSync(join(dir, 'notes.txt'), 'kept');
    const second = TransformerPolicy.create(config, { seed: 2 });
    await saveCheckpoint(dir, second, {
      metadata: { step: '4' },
      extraFiles: { 'trainer-state.json': '{"step":4}' },
    });
    expect(readFileSync(join(dir, 'trainer-state.json'), 'utf8')).toBe('{"step":4}');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('kept');
    await expect(
      saveCheckpoint(dir, second, { extraFiles: { 'config.json': '{}' } }),
    ).rejects.toThrow(/must be a plain file name not used/);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.policy.model.parameters().get('embed.weight')!.dataSync()).toEqual(
      second.model.parameters().get('embed.weight')!.dataSync(),
    );
    expect(readdirSync(root).filter((f) => f.startsWith('.replace'))).toEqual([]);
    for (const p of [first, second, loaded.policy]) p.dispose();
  });

  it('a failed save never overwrites the existing checkpoint', async () => {
    const dir = join(root, 'failed-save');
    const policy = TransformerPolicy.create(config, { seed: 1 });
    await saveCheckpoint(dir, policy, { tokenizer });
    const before = readFileSync(join(dir, 'model.safetensors'));
    const other = TransformerPolicy.create(config, { seed: 9 });
    const error = await expectHicraRejection(
      saveCheckpoint(dir, other, { tokenizer: {} as never }),
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(before);
    expect(readdirSync(root).filter((f) => f.includes('failed-save') && f.startsWith('.'))).toEqual(
      [],
    );
    policy.dispose();
    other.dispose();
  });

  it('rejects weights garbled into NaN or Infinity, naming the file, the tensor, the index and the value', async () => {
    const policy = TransformerPolicy.create(config, { seed: 2 });
    const dir = join(root, 'non-finite');
    const weights = join(dir, 'model.safetensors');
    // Overwrites element `index` of tensor `name` in the saved file with `value` (float32 LE).
    const garble = (name: string, index: number, value: number) => {
      const bytes = readFileSync(weights);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
      const begin = 8 + headerLength + header[name].data_offsets[0] + 4 * index;
      bytes.writeFloatLE(value, begin);
      writeFileSync(weights, bytes);
    };
    for (const [name, index, value, shown] of [
      ['embed.weight', 17, Number.NaN, 'NaN'],
      ['embed.weight', 0, Number.POSITIVE_INFINITY, 'Infinity'],
      ['layers.1.mlp.down.weight', 40, Number.NEGATIVE_INFINITY, '-Infinity'],
    ] as const) {
      await saveCheckpoint(dir, policy, { tokenizer });
      const header = JSON.parse(
        readFileSync(weights)
          .subarray(8, 8 + Number(readFileSync(weights).readBigUInt64LE(0)))
          .toString('utf8'),
      );
      expect(Object.keys(header)).toContain(name);
      garble(name, index, value);
      const before = tf.memory().numTensors;
      const error = await expectHicraRejection(loadCheckpoint(dir));
      expect(error.code).toBe(ErrorCode.CorruptFile);
      expect(error.message).toContain(weights);
      expect(error.message).toContain(
        `tensor "${name}" holds ${shown} at index ${index} (element [`,
      );
      expect(error.message).toContain('weights must be finite');
      expect(error.details).toMatchObject({ path: weights, name, index, value: shown });
      expect(tf.memory().numTensors).toBe(before);
    }
    policy.dispose();
  });

  it('rejects corrupt, truncated and inconsistent checkpoints with errors naming the file', async () => {
    const policy = TransformerPolicy.create(config, { seed: 1 });
    const dir = join(root, 'corrupt');
    await saveCheckpoint(dir, policy, { tokenizer });
    const weights = join(dir, 'model.safetensors');
    const size = readFileSync(weights).length;
    truncateSync(weights, size - 100);
    const truncated = await expectHicraRejection(loadCheckpoint(dir));
    expect(CorruptFileError.isInstance(truncated)).toBe(true);
    expect(truncated.message).toContain('model.safetensors');

    await saveCheckpoint(dir, policy, { tokenizer });
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(
      join(dir, 'config.json'),
      // A wider model whose derived sizes (head width, MLP width) follow from the new width.
      JSON.stringify({
        ...json,
        model: { ...json.model, width: 32, headDim: undefined, mlpWidth: undefined },
      }),
    );
    const shapes = await expectHicraRejection(loadCheckpoint(dir));
    expect(shapes.message).toMatch(
      /tensor "embed\.weight" has shape \[\d+, 16\], expected \[\d+, 32\]/,
    );

    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        ...json,
        model: { ...json.model, heads: 3, kvHeads: undefined, headDim: undefined },
      }),
    );
    expect((await expectHicraRejection(loadCheckpoint(dir))).message).toContain('model.heads');
    writeFileSync(join(dir, 'config.json'), '{ not json');
    expect((await expectHicraRejection(loadCheckpoint(dir))).message).toContain(
      'config.json: not valid JSON',
    );
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...json, model: { ...json.model, vocabSize: json.model.vocabSize + 1 } }),
    );
    expect((await expectHicraRejection(loadCheckpoint(dir))).message).toContain('has shape');
    expect((await expectHicraRejection(loadCheckpoint(join(root, 'nowhere')))).message).toContain(
      'not found; is',
    );
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
    policy.dispose();
  });

  it('a tokenizer that config.json promises but the folder lacks fails before any tensor exists', async () => {
    const policy = TransformerPolicy.create(config, { seed: 2 });
    const dir = join(root, 'no-tokenizer');
    await saveCheckpoint(dir, policy, { tokenizer });
    policy.dispose();
    rmSync(join(dir, 'tokenizer.json'));
    const before = tf.memory().numTensors;
    const error = await expectHicraRejection(loadCheckpoint(dir));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain(`${join(dir, 'tokenizer.json')}: not found`);
    expect(error.message).toContain('word tokenizer');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('recovers a swap interrupted between its renames: the newest retired folder comes back', async () => {
    const parent = join(root, 'swap');
    const dir = join(parent, 'checkpoint');
    const older = TransformerPolicy.create(config, { seed: 1 });
    const newer = TransformerPolicy.create(config, { seed: 2 });
    await saveCheckpoint(dir, older, { metadata: { step: '1' } });
    renameSync(dir, join(parent, '.checkpoint.old-1-a'));
    utimesSync(join(parent, '.checkpoint.old-1-a'), new Date(1e12), new Date(1e12));
    await saveCheckpoint(dir, newer, { metadata: { step: '2' } });
    // The process died inside the next save: checkpoint/ retired, staging half written.
    renameSync(dir, join(parent, '.checkpoint.old-2-b'));
    mkdirSync(join(parent, '.checkpoint.saving-3-c'));
    writeFileSync(join(parent, '.checkpoint.saving-3-c', 'model.safetensors'), 'partial');
    writeFileSync(join(parent, '.checkpoint2.old-9'), 'not ours'); // another folder's name
    expect(existsSync(dir)).toBe(false);

    const recovery = await recoverCheckpointSwap(dir);
    expect(recovery).toEqual({
      recovered: true,
      recoveredFrom: join(parent, '.checkpoint.old-2-b'),
      removed: [join(parent, '.checkpoint.old-1-a'), join(parent, '.checkpoint.saving-3-c')],
    });
    expect(readdirSync(parent).sort()).toEqual(['.checkpoint2.old-9', 'checkpoint']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.metadata).toEqual({ step: '2' });
    expect(loaded.policy.model.parameters().get('embed.weight')!.dataSync()).toEqual(
      newer.model.parameters().get('embed.weight')!.dataSync(),
    );
    for (const p of [older, newer, loaded.policy]) p.dispose();
  });

  it('with the checkpoint in place, removes leftover swap folders and keeps the checkpoint', async () => {
    const parent = join(root, 'swap-leftovers');
    const dir = join(parent, 'checkpoint');
    const policy = TransformerPolicy.create(config, { seed: 3 });
    await saveCheckpoint(dir, policy, { metadata: { step: '5' } });
    mkdirSync(join(parent, '.checkpoint.old-1-a'));
    writeFileSync(join(parent, '.checkpoint.old-1-a', 'config.json'), '{}');
    mkdirSync(join(parent, '.checkpoint.saving-2-b'));
    expect(await recoverCheckpointSwap(dir)).toEqual({
      recovered: false,
      removed: [join(parent, '.checkpoint.old-1-a'), join(parent, '.checkpoint.saving-2-b')],
    });
    expect(readdirSync(parent)).toEqual(['checkpoint']);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.metadata).toEqual({ step: '5' });
    loaded.policy.dispose();
    // Nothing to do, and a parent that does not exist, are both fine.
    expect(await recoverCheckpointSwap(dir)).toEqual({ recovered: false, removed: [] });
    expect(await recoverCheckpointSwap(join(root, 'nowhere', 'checkpoint'))).toEqual({
      recovered: false,
      removed: [],
    });
    policy.dispose();
  });
});
