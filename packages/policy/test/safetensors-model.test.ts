import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, type HicraError } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SAFETENSORS_SHARD_BYTES,
  decodeSafetensors,
  encodeSafetensors,
  openSafetensorsFile,
  openSafetensorsModel,
  SAFETENSORS_MODEL_FILES,
  type SafetensorsData,
  type SafetensorsTensorInput,
  writeSafetensorsModel,
} from '../src/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
const PREFIX = '@hicra/policy: ';
const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';
const INDEX = 'model.safetensors.index.json';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-safetensors-model-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
let counter = 0;
const freshDir = () => {
  const dir = join(scratch, `case-${counter++}`);
  mkdirSync(dir);
  return dir;
};
/** A copy of a fixture folder that a test may change. */
const copyOf = (folder: string) => {
  const dir = join(scratch, `case-${counter++}-${folder}`);
  cpSync(join(FIXTURES, folder), dir, { recursive: true });
  return dir;
};

const bytesOf = (data: ArrayBufferView) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** Opening the folder fails with a CorruptFileError reading exactly `${file}: ${problem}`. */
async function expectModelFails(dir: string, file: string, problem: string): Promise<HicraError> {
  const error = await expectHicraRejection(openSafetensorsModel(dir));
  expect(error.code).toBe(ErrorCode.CorruptFile);
  expect(error.message).toBe(`${PREFIX}${file}: ${problem}`);
  return error;
}

interface IndexJson {
  metadata: { total_size: number };
  weight_map: Record<string, string>;
}
const readIndex = (dir: string) => JSON.parse(readFileSync(join(dir, INDEX), 'utf8')) as IndexJson;
const writeIndex = (dir: string, index: unknown) =>
  writeFileSync(join(dir, INDEX), JSON.stringify(index, null, 2));

/** Every tensor of the folder's safetensors files, decoded whole: the reference. */
function decodeFolder(dir: string): Map<string, { file: string; data: SafetensorsData }> {
  const out = new Map<string, { file: string; data: SafetensorsData }>();
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith('.safetensors'))
    .sort())
    for (const [name, { data }] of decodeSafetensors(readFileSync(join(dir, file)), file).tensors)
      out.set(name, { file, data });
  return out;
}

const descriptors = () =>
  existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined;

describe('openSafetensorsModel: the golden fixture folders', () => {
  it('qwen2-tied: one model.safetensors', async () => {
    const dir = join(FIXTURES, 'qwen2-tied');
    const model = await openSafetensorsModel(dir);
    expect(model.dir).toBe(dir);
    expect(model.files).toEqual(['model.safetensors']);
    const expected = decodeFolder(dir);
    expect([...model.tensors.keys()]).toEqual([...expected.keys()]);
    expect(model.tensors.has('lm_head.weight')).toBe(false); // tied
    expect(model.tensors.get('model.embed_tokens.weight')).toEqual({
      name: 'model.embed_tokens.weight',
      dtype: 'F32',
      shape: [512, 64],
      byteLength: 512 * 64 * 4,
      file: 'model.safetensors',
    });
    for (const [name, { data }] of expected) {
      expect(bytesOf(await model.read(name)).equals(bytesOf(data)), name).toBe(true);
      expect(bytesOf(await model.readFloat32(name)).equals(bytesOf(data)), name).toBe(true);
    }
    await model.close();
  });

  it('qwen2-untied-sharded: both shards as one, as the index says', async () => {
    const dir = join(FIXTURES, 'qwen2-untied-sharded');
    const index = readIndex(dir);
    const model = await openSafetensorsModel(dir);
    expect(model.files).toEqual([SHARD1, SHARD2]);
    expect([...model.tensors.keys()].sort()).toEqual(Object.keys(index.weight_map).sort());
    const expected = decodeFolder(dir);
    let total = 0;
    for (const [name, info] of model.tensors) {
      expect(info.file, name).toBe(index.weight_map[name]);
      expect(info.file, name).toBe(expected.get(name)?.file);
      const data = await model.read(name);
      expect(bytesOf(data).equals(bytesOf(expected.get(name)?.data as SafetensorsData))).toBe(true);
      total += info.byteLength;
    }
    expect(total).toBe(index.metadata.total_size);
    expect(model.tensors.get('lm_head.weight')?.shape).toEqual([1000, 32]);
    // shard by shard, each in the order of its bytes
    expect([...model.tensors.values()].map((t) => t.file)).toEqual(
      [...model.tensors.values()].map((t) => t.file).sort(),
    );
    await model.close();
  });

  it('llama-bf16: BF16 raw bits from read, exact float32 from readFloat32', async () => {
    const dir = join(FIXTURES, 'llama-bf16');
    const model = await openSafetensorsModel(dir);
    const expected = decodeFolder(dir);
    expect(model.tensors.size).toBe(expected.size);
    for (const [name, { data }] of expected) {
      expect(model.tensors.get(name)?.dtype).toBe('BF16');
      const bits = await model.read(name);
      expect(bits).toBeInstanceOf(Uint16Array);
      expect(bytesOf(bits).equals(bytesOf(data))).toBe(true);
      const widened = Uint32Array.from(data as Uint16Array, (h) => h << 16);
      expect(bytesOf(await model.readFloat32(name)).equals(bytesOf(widened)), name).toBe(true);
    }
    await model.close();
  });

  it('every fixture folder opens, and an unknown tensor names the folder and its neighbours', async () => {
    for (const folder of readdirSync(FIXTURES, { withFileTypes: true }))
      if (folder.isDirectory()) {
        const model = await openSafetensorsModel(join(FIXTURES, folder.name));
        expect(model.tensors.size).toBeGreaterThan(10);
        await model.close();
      }
    const dir = join(FIXTURES, 'qwen2-untied-sharded');
    const model = await openSafetensorsModel(dir);
    const error = await expectHicraRejection(
      model.readFloat32('model.layers.1.self_attn.q_proj.weights'),
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.message).toBe(
      `${PREFIX}${dir}: no tensor "model.layers.1.self_attn.q_proj.weights"; it has 27 tensors, among them "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.o_proj.weight"`,
    );
    await model.close();
    const closed = await expectHicraRejection(model.read('model.norm.weight'));
    expect(closed.message).toBe(
      `${PREFIX}${join(dir, SHARD2)}: cannot read tensor "model.norm.weight", the reader is closed`,
    );
  });
});

describe('openSafetensorsModel: a folder that does not hold what its index says', () => {
  const index = () => readIndex(join(FIXTURES, 'qwen2-untied-sharded'));

  it('no weights at all names the folder and both files', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'config.json'), '{}');
    const error = await expectModelFails(
      dir,
      dir,
      'no model weights: neither model.safetensors nor model.safetensors.index.json is in the folder',
    );
    expect(error.details['expected']).toEqual([
      SAFETENSORS_MODEL_FILES.single,
      SAFETENSORS_MODEL_FILES.index,
    ]);
    const missing = join(scratch, 'no-such-folder');
    await expectModelFails(
      missing,
      missing,
      'no model weights: neither model.safetensors nor model.safetensors.index.json is in the folder',
    );
  });

  it('an index naming a missing shard', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    rmSync(join(dir, SHARD2));
    const error = await expectModelFails(
      dir,
      join(dir, INDEX),
      `names the shard "${SHARD2}" (for tensor "lm_head.weight" and 4 more), which is not in ${dir}`,
    );
    expect(error.details).toMatchObject({ shard: SHARD2, tensor: 'lm_head.weight' });
  });

  it('an index with a tensor missing from its shard, or put in the wrong shard', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    writeIndex(dir, {
      ...index(),
      weight_map: { ...index().weight_map, 'model.extra.weight': SHARD1 },
    });
    await expectModelFails(
      dir,
      join(dir, INDEX),
      `weight_map puts tensor "model.extra.weight" in "${SHARD1}", which has no such tensor`,
    );
    writeIndex(dir, {
      metadata: {},
      weight_map: { ...index().weight_map, 'model.norm.weight': SHARD1 },
    });
    await expectModelFails(
      dir,
      join(dir, INDEX),
      `weight_map puts tensor "model.norm.weight" in "${SHARD1}", but it is in "${SHARD2}"`,
    );
  });

  it('a tensor in a shard but not in weight_map', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    const { weight_map, metadata } = index();
    delete weight_map['model.norm.weight'];
    writeIndex(dir, { metadata, weight_map });
    await expectModelFails(
      dir,
      join(dir, INDEX),
      `tensor "model.norm.weight" of shard "${SHARD2}" is not in weight_map`,
    );
  });

  it('a tensor in two shards', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    const first = decodeSafetensors(readFileSync(join(dir, SHARD1))).tensors;
    const second = new Map(decodeSafetensors(readFileSync(join(dir, SHARD2))).tensors);
    second.set('model.embed_tokens.weight', first.get('model.embed_tokens.weight') as never);
    writeFileSync(join(dir, SHARD2), encodeSafetensors(second, { format: 'pt' }));
    const error = await expectModelFails(
      dir,
      join(dir, INDEX),
      `tensor "model.embed_tokens.weight" is in two shards, "${SHARD1}" and "${SHARD2}"`,
    );
    expect(error.details['shards']).toEqual([SHARD1, SHARD2]);
  });

  it('a wrong total_size names both numbers', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    writeIndex(dir, { ...index(), metadata: { total_size: 330881 } });
    const error = await expectModelFails(
      dir,
      join(dir, INDEX),
      'metadata.total_size is 330881 bytes, but the tensors of the shards hold 330880',
    );
    expect(error.details).toMatchObject({ expected: 330881, actual: 330880 });
    // without total_size, nothing to compare
    writeIndex(dir, { weight_map: index().weight_map });
    await (await openSafetensorsModel(dir)).close();
  });

  it('a shard name that leaves the folder is refused before any file is touched', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    // a valid shard really is there, one level up: it must still not be read
    cpSync(join(dir, SHARD1), join(dir, '..', SHARD1));
    for (const name of [
      `../${SHARD1}`,
      `sub/${SHARD1}`,
      `..\\${SHARD1}`,
      join(dir, SHARD1),
      '..',
      '.',
      '',
    ]) {
      const weight_map = { ...index().weight_map };
      for (const [tensor, shard] of Object.entries(weight_map))
        if (shard === SHARD1) weight_map[tensor] = name;
      writeIndex(dir, { ...index(), weight_map });
      const error = await expectModelFails(
        dir,
        join(dir, INDEX),
        `weight_map puts tensor "model.embed_tokens.weight" in ${JSON.stringify(name)}, which is not a plain file name in the folder`,
      );
      expect(error.details).toMatchObject({ tensor: 'model.embed_tokens.weight', shard: name });
    }
  });

  it('a malformed index', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    const path = join(dir, INDEX);
    const cases: [string, string][] = [
      ['{"weight_map": {', 'not valid JSON'],
      ['[]', 'must be a JSON object { metadata, weight_map }'],
      [
        '{"metadata": {}}',
        'weight_map must be an object of shard file names by tensor name, got nothing',
      ],
      ['{"weight_map": {}}', 'weight_map lists no tensors'],
      [`{"weight_map": {"a": 3}}`, 'weight_map["a"] must be a shard file name, got 3'],
      [`{"metadata": [], "weight_map": {"a": "${SHARD1}"}}`, 'metadata must be an object'],
      [
        `{"metadata": {"total_size": "330880"}, "weight_map": {"a": "${SHARD1}"}}`,
        'metadata.total_size must be a non-negative integer, got "330880"',
      ],
      [
        `{"metadata": {"total_size": -1}, "weight_map": {"a": "${SHARD1}"}}`,
        'metadata.total_size must be a non-negative integer, got -1',
      ],
      [`{"weight_map": {"a": "${SHARD1}", "a": "${SHARD2}"}}`, 'repeats the key "a"'],
    ];
    for (const [text, problem] of cases) {
      writeFileSync(path, text);
      const error = await expectHicraRejection(openSafetensorsModel(dir));
      expect(error.code, text).toBe(ErrorCode.CorruptFile);
      expect(error.message, text).toContain(`${PREFIX}${path}: ${problem}`);
    }
  });

  it('a corrupt shard names the shard and the tensor; no file stays open after a failure', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    const before = descriptors();
    const bytes = readFileSync(join(dir, SHARD2));
    writeFileSync(join(dir, SHARD2), bytes.subarray(0, bytes.length - 4));
    const error = await expectHicraRejection(openSafetensorsModel(dir));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toMatch(
      new RegExp(
        `^${PREFIX}${join(dir, SHARD2).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated: tensor "[^"]+" ends at byte \\d+ of the data but the data has \\d+ bytes$`,
      ),
    );
    writeFileSync(join(dir, SHARD2), bytes);
    writeIndex(dir, { ...index(), metadata: { total_size: 1 } });
    await expectHicraRejection(openSafetensorsModel(dir)); // fails after both shards were opened
    expect(descriptors()).toBe(before);
  });

  it('with both an index and model.safetensors, the index is read', async () => {
    const dir = copyOf('qwen2-untied-sharded');
    cpSync(join(FIXTURES, 'qwen2-tied', 'model.safetensors'), join(dir, 'model.safetensors'));
    const model = await openSafetensorsModel(dir);
    expect(model.files).toEqual([SHARD1, SHARD2]);
    await model.close();
  });

  it('readFloat32 of an integer tensor names the shard, the tensor and the dtype', async () => {
    const dir = freshDir();
    await writeSafetensorsModel(
      dir,
      new Map<string, SafetensorsTensorInput>([
        ['w', { shape: [4], data: new Float32Array(4) }],
        ['step', { shape: [], data: new BigInt64Array([3n]) }],
      ]),
      { maxShardBytes: 16 },
    );
    const model = await openSafetensorsModel(dir);
    const error = await expectHicraRejection(model.readFloat32('step'));
    expect(error.message).toBe(
      `${PREFIX}${join(dir, 'model-00002-of-00002.safetensors')}: tensor "step" has dtype I64; readFloat32 reads F32, F16, BF16 and F64 only (read() returns it as stored)`,
    );
    expect(await model.read('step')).toEqual(new BigInt64Array([3n]));
    await model.close();
  });
});

/** `count` F32 elements 0, 1, 2, ... plus `offset`. */
const f32 = (count: number, offset = 0) =>
  Float32Array.from({ length: count }, (_, i) => i + offset);

describe('writeSafetensorsModel: the layout transformers writes and reads', () => {
  it('one model.safetensors when the tensors fit, with {"format": "pt"}', async () => {
    const dir = join(freshDir(), 'new', 'folder'); // created
    const entries = new Map<string, SafetensorsTensorInput>([
      ['b', { shape: [2, 3], data: f32(6) }],
      ['a', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x4000]) }],
    ]);
    expect(DEFAULT_SAFETENSORS_SHARD_BYTES).toBe(5_000_000_000);
    expect(await writeSafetensorsModel(dir, entries)).toEqual({ files: ['model.safetensors'] });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const file = await openSafetensorsFile(join(dir, 'model.safetensors'));
    expect(file.metadata).toEqual({ format: 'pt' });
    await file.close();
    const model = await openSafetensorsModel(dir);
    expect(await model.read('b')).toEqual(f32(6));
    expect(await model.readFloat32('a')).toEqual(new Float32Array([1, 2]));
    await model.close();

    await writeSafetensorsModel(dir, entries, { metadata: { step: '3' } });
    const again = await openSafetensorsFile(join(dir, 'model.safetensors'));
    expect(again.metadata).toEqual({ format: 'pt', step: '3' });
    await again.close();
  });

  it('shards filled in entry order, named and indexed as save_pretrained does', async () => {
    const dir = freshDir();
    const entries = new Map<string, SafetensorsTensorInput>([
      ['z.first', { shape: [10], data: f32(10) }], // 40 bytes
      ['y.second', { shape: [10], data: f32(10, 100) }], // 40: 80 in shard 1
      ['10', { shape: [25], data: f32(25, 200) }], // 100: does not fit with 80, shard 2
      ['9', { dtype: 'I64', shape: [1], data: () => new BigInt64Array([9n]) }], // 8: shard 3
      ['huge', { shape: [40], data: f32(40) }], // 160 > max: a shard of its own
      ['a.small', { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) }], // 3: shard 5
    ]);
    const { files } = await writeSafetensorsModel(dir, entries, {
      maxShardBytes: 100,
      metadata: { step: '7' },
    });
    const shards = [1, 2, 3, 4, 5].map((i) => `model-0000${i}-of-00005.safetensors`);
    expect(files).toEqual([...shards, INDEX]);
    expect(readdirSync(dir).sort()).toEqual([...shards, INDEX].sort());
    const text = readFileSync(join(dir, INDEX), 'utf8');
    expect(text).toBe(
      `{
  "metadata": {
    "total_size": 351
  },
  "weight_map": {
    "10": "${shards[1]}",
    "9": "${shards[2]}",
    "a.small": "${shards[4]}",
    "huge": "${shards[3]}",
    "y.second": "${shards[0]}",
    "z.first": "${shards[0]}"
  }
}
`,
    );
    const model = await openSafetensorsModel(dir);
    expect(model.files).toEqual(shards);
    for (const [name, entry] of entries) {
      const data = typeof entry.data === 'function' ? entry.data() : entry.data;
      expect(bytesOf(await model.read(name)).equals(bytesOf(data)), name).toBe(true);
    }
    await model.close();
    for (const shard of shards) {
      const file = await openSafetensorsFile(join(dir, shard));
      expect(file.metadata).toEqual({ format: 'pt', step: '7' });
      await file.close();
    }
  });

  it('data functions are called once each, while writing, never before validation', async () => {
    const calls: string[] = [];
    const lazy = (name: string, count: number): SafetensorsTensorInput => ({
      dtype: 'F32',
      shape: [count],
      data: () => {
        calls.push(name);
        return f32(count);
      },
    });
    const dir = join(freshDir(), 'model');
    const bad = new Map([
      ['a', lazy('a', 10)],
      ['b', { shape: [3], data: new Float32Array(2) }],
    ]);
    const error = await expectHicraRejection(writeSafetensorsModel(dir, bad, { maxShardBytes: 8 }));
    expect(error.code).toBe(ErrorCode.ShapeMismatch);
    expect(calls).toEqual([]);
    expect(existsSync(dir)).toBe(false); // nothing written, not even the folder
    const entries = new Map([
      ['a', lazy('a', 10)],
      ['b', lazy('b', 10)],
      ['c', lazy('c', 10)],
    ]);
    await writeSafetensorsModel(dir, entries, { maxShardBytes: 80 });
    expect(calls).toEqual(['a', 'b', 'c']);
    const model = await openSafetensorsModel(dir);
    expect(model.files).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    await model.close();
  });

  it('the sharded fixture round-trips through a sharded write', async () => {
    const source = await openSafetensorsModel(join(FIXTURES, 'qwen2-untied-sharded'));
    const entries = new Map<string, SafetensorsTensorInput>();
    for (const [name, { dtype, shape }] of source.tensors)
      entries.set(name, { dtype, shape, data: await source.read(name) });
    await source.close();
    const dir = freshDir();
    const { files } = await writeSafetensorsModel(dir, entries, { maxShardBytes: 100_000 });
    expect(files.length).toBeGreaterThan(3);
    expect(readIndex(dir).metadata.total_size).toBe(330880);
    const model = await openSafetensorsModel(dir);
    const expected = decodeFolder(join(FIXTURES, 'qwen2-untied-sharded'));
    expect([...model.tensors.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, { data }] of expected)
      expect(bytesOf(await model.read(name)).equals(bytesOf(data)), name).toBe(true);
    await model.close();
  });

  it('checks its options', async () => {
    const dir = freshDir();
    const entries = new Map([['w', { shape: [1], data: new Float32Array(1) }]]);
    for (const max of [0, -1, 1.5, Number.NaN, '5GB'] as never[]) {
      const error = await expectHicraRejection(
        writeSafetensorsModel(dir, entries, { maxShardBytes: max }),
      );
      expect(error.code).toBe(ErrorCode.InvalidArgument);
      expect(error.message).toBe(
        `${PREFIX}writeSafetensorsModel: maxShardBytes must be a positive integer, got ${String(max)}`,
      );
    }
    expect(
      (
        await expectHicraRejection(
          writeSafetensorsModel(dir, entries, { metadata: { n: 1 as never } }),
        )
      ).message,
    ).toContain('metadata.n must be a string');
    expect(
      (await expectHicraRejection(writeSafetensorsModel(dir, entries, { metadata: 'pt' as never })))
        .message,
    ).toBe(`${PREFIX}writeSafetensorsModel: metadata must be an object of strings`);
    expect((await expectHicraRejection(writeSafetensorsModel('', entries))).code).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('writeSafetensorsModel: replacing an earlier save', () => {
  const entries = (offset: number) =>
    new Map<string, SafetensorsTensorInput>([
      ['a', { shape: [10], data: f32(10, offset) }],
      ['b', { shape: [10], data: f32(10, offset) }],
      ['c', { shape: [10], data: f32(10, offset) }],
    ]);
  const snapshot = (dir: string) =>
    Object.fromEntries(
      readdirSync(dir)
        .sort()
        .map((name) => [name, readFileSync(join(dir, name)).toString('base64')]),
    );
  const firstOfC = async (dir: string) => {
    const model = await openSafetensorsModel(dir);
    const value = (await model.readFloat32('c'))[0];
    await model.close();
    return value;
  };

  it('single after sharded removes the index and the shards; sharded after single removes model.safetensors', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'model-notes.safetensors.txt'), 'kept');
    await writeSafetensorsModel(dir, entries(0), { maxShardBytes: 40 });
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model-notes.safetensors.txt',
      INDEX,
    ]);
    await writeSafetensorsModel(dir, entries(1));
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'model-notes.safetensors.txt',
      'model.safetensors',
    ]);
    expect(await firstOfC(dir)).toBe(1);
    await writeSafetensorsModel(dir, entries(2), { maxShardBytes: 80 });
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model-notes.safetensors.txt',
      INDEX,
    ]);
    expect(await firstOfC(dir)).toBe(2);
    // 3 shards after 2, then 2 after 3: the stale "of-00003" shards go
    await writeSafetensorsModel(dir, entries(3), { maxShardBytes: 40 });
    await writeSafetensorsModel(dir, entries(4), { maxShardBytes: 80 });
    expect(readdirSync(dir).filter((name) => name.startsWith('model-0'))).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    expect(await firstOfC(dir)).toBe(4);
  });

  it('a write that fails midway leaves the earlier save exactly as it was', async () => {
    const failing = (offset: number) => {
      const map = entries(offset);
      map.set('c', {
        dtype: 'F32',
        shape: [10],
        data: () => {
          throw new Error('device lost while reading the weights');
        },
      });
      return map;
    };
    for (const [earlier, attempt] of [
      [40, 40], // sharded over sharded (same shard names)
      [40, undefined], // single over sharded
      [undefined, 40], // sharded over single
      [undefined, undefined], // single over single
    ]) {
      const dir = freshDir();
      await writeSafetensorsModel(dir, entries(5), { maxShardBytes: earlier });
      const before = snapshot(dir);
      await expect(
        writeSafetensorsModel(dir, failing(6), { maxShardBytes: attempt }),
      ).rejects.toThrow('device lost');
      expect(snapshot(dir)).toEqual(before); // no staged or temporary file left either
      expect(await firstOfC(dir)).toBe(5);
    }
  });
});
