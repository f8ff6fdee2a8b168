import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, type HicraError } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsFile,
  SAFETENSORS_DTYPES,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsTensorInput,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../src/checkpoint/safetensors.js';

const PYTHON = '/usr/bin/python3';
const READER = fileURLToPath(new URL('./peers/read_safetensors.py', import.meta.url));

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-safetensors-'));
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

const bytesOf = (data: ArrayBufferView) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength);

function f32FromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

/** Decoding `bytes` fails with a CorruptFileError naming the file and each fragment. */
function expectCorrupt(bytes: Uint8Array, ...fragments: string[]): HicraError {
  return expectHicraError(() => decodeSafetensors(bytes, 'model.safetensors'), {
    code: ErrorCode.CorruptFile,
    message: ['model.safetensors', ...fragments],
  });
}

/** A file built from the specification: u64 LE header length, header JSON, raw bytes. */
function buildFile(header: string, data: number[] | Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  let n = json.length;
  for (let i = 0; i < 8; i++) {
    out[i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors: files built byte by byte from the specification', () => {
  it('decodes a hand-built file with F32, I64, U8 and metadata (unaligned offsets: copies)', () => {
    // 1.0f = 00 00 80 3f, -2.5f = 00 00 20 c0; -2 as i64 = fe ff ff ff ff ff ff ff; u8 7, 255
    const header =
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"c":{"dtype":"U8","shape":[2,1],"data_offsets":[16,18]}}';
    const data = [
      0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 255,
    ];
    const { tensors, metadata } = decodeSafetensors(buildFile(header, data));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(tensors.get('a')).toEqual({
      dtype: 'F32',
      shape: [2],
      data: new Float32Array([1, -2.5]),
    });
    expect(tensors.get('b')).toEqual({ dtype: 'I64', shape: [1], data: new BigInt64Array([-2n]) });
    expect(tensors.get('c')).toEqual({
      dtype: 'U8',
      shape: [2, 1],
      data: new Uint8Array([7, 255]),
    });
  });

  it('decodes scalars, empty tensors, F16, BF16, BOOL and F64', () => {
    const header =
      '{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},' +
      '"h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},' +
      '"g":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},' +
      '"e":{"dtype":"F32","shape":[3,0],"data_offsets":[14,14]},' +
      '"k":{"dtype":"BOOL","shape":[2],"data_offsets":[14,16]}}   ';
    // 0.5 as f64 = 00 .. e0 3f; f16 1.0 = 00 3c, -2.0 = 00 c0; bf16 1.0 = 80 3f; bools 1, 0
    const data = [0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 1, 0];
    const { tensors } = decodeSafetensors(buildFile(header, data));
    expect(tensors.get('s')).toEqual({ dtype: 'F64', shape: [], data: new Float64Array([0.5]) });
    expect(tensors.get('h')?.data).toEqual(new Uint16Array([0x3c00, 0xc000]));
    expect(tensors.get('g')?.data).toEqual(new Uint16Array([0x3f80]));
    expect(tensors.get('e')).toEqual({ dtype: 'F32', shape: [3, 0], data: new Float32Array(0) });
    expect(tensors.get('k')).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
  });

  it('writes exactly the bytes the specification gives (header padded with spaces to 8)', () => {
    const bytes = encodeSafetensors({ w: { shape: [2], data: new Float32Array([1, -2.5]) } });
    const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes -> 56
    expect(json.length).toBe(54);
    const expected = [
      56,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...Buffer.from(`${json}  `),
      0,
      0,
      0x80,
      0x3f,
      0,
      0,
      0x20,
      0xc0,
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('lays tensors out by element size then name, so every tensor is aligned and read as a view', () => {
    const bytes = encodeSafetensors({
      z8: { shape: [3], data: new Uint8Array([1, 2, 3]) },
      a16: { shape: [1], data: new Int16Array([-5]) },
      b64: { shape: [1], data: new Float64Array([Math.PI]) },
      a32: { shape: [1], data: new Float32Array([2]) },
    });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString());
    expect(Object.keys(header)).toEqual(['b64', 'a32', 'a16', 'z8']);
    expect(header.b64.data_offsets).toEqual([0, 8]);
    expect(header.a32.data_offsets).toEqual([8, 12]);
    expect(header.a16.data_offsets).toEqual([12, 14]);
    expect(header.z8.data_offsets).toEqual([14, 17]);
    const { tensors } = decodeSafetensors(bytes);
    for (const { data } of tensors.values()) expect(data.buffer).toBe(bytes.buffer);
    // the same content in another order gives the same bytes
    const again = encodeSafetensors(
      new Map<string, SafetensorsTensorInput>([...tensors].reverse().map(([k, v]) => [k, v])),
    );
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });
});

/** Tensors of every dtype, with the float values that break naive copies. */
function specialTensors(): Map<string, SafetensorsTensorInput> {
  return new Map<string, SafetensorsTensorInput>([
    [
      'f32.special',
      {
        shape: [2, 6],
        data: f32FromBits([
          0x7fc00000, // quiet NaN
          0x7fc00001, // NaN with a payload
          0xffbfffff, // negative NaN, full payload
          0x7f800001, // signalling NaN
          0x80000000, // -0
          0x00000001, // smallest subnormal
          0x807fffff, // largest negative subnormal
          0x7f800000, // +Infinity
          0xff800000, // -Infinity
          0x7f7fffff, // largest finite
          0x3f800000, // 1
          0x00800000, // smallest normal
        ]),
      },
    ],
    [
      'f64.special',
      {
        shape: [5],
        data: new Float64Array(
          new BigUint64Array([
            0x7ff8000000000001n,
            0x8000000000000000n,
            0x0000000000000001n,
            0xfff0000000000000n,
            0x3ff0000000000000n,
          ]).buffer,
        ),
      },
    ],
    ['f16', { dtype: 'F16', shape: [4], data: new Uint16Array([0x3c00, 0x8000, 0x7e01, 0x0001]) }],
    ['bf16', { dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xff80, 0x0001]) }],
    ['i64', { shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]) }],
    ['u64', { shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 2n ** 53n + 1n]) }],
    ['i32', { shape: [3], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 7]) }],
    ['u32', { shape: [1], data: new Uint32Array([2 ** 32 - 1]) }],
    ['i16', { shape: [2], data: new Int16Array([-32768, 32767]) }],
    ['u16', { shape: [1], data: new Uint16Array([65535]) }],
    ['i8', { shape: [2], data: new Int8Array([-128, 127]) }],
    ['u8', { shape: [1, 1, 3], data: new Uint8Array([0, 128, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['scalar', { shape: [], data: new Float32Array([42]) }],
    ['empty', { shape: [4, 0, 2], data: new Float32Array(0) }],
    ['lazy', { dtype: 'I32', shape: [2, 2], data: () => new Int32Array([1, 2, 3, 4]) }],
  ]);
}

const METADATA = { format: 'pt', note: 'unicode ✓ 中文 😀', empty: '' };

function dataOf(input: SafetensorsTensorInput): SafetensorsData {
  return typeof input.data === 'function' ? input.data() : input.data;
}

describe('safetensors: round trips are bit-exact', () => {
  it('encode -> decode keeps every byte, dtype, shape and the metadata', () => {
    const input = specialTensors();
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors(input, METADATA));
    expect(metadata).toEqual(METADATA);
    expect(new Set(tensors.keys())).toEqual(new Set(input.keys()));
    for (const [name, entry] of input) {
      const out = tensors.get(name);
      expect(out?.shape, name).toEqual(entry.shape);
      expect(bytesOf(out?.data as SafetensorsData).equals(bytesOf(dataOf(entry))), name).toBe(true);
    }
    expect(tensors.get('f32.special')?.dtype).toBe('F32');
    expect(tensors.get('i64')?.dtype).toBe('I64');
    expect(tensors.get('bf16')?.dtype).toBe('BF16');
    const special = tensors.get('f32.special')?.data as Float32Array;
    expect(Object.is(special[4], -0)).toBe(true);
  });

  it('writeSafetensorsFile -> readSafetensorsFile is bit-exact, and equals encodeSafetensors', async () => {
    const file = join(freshDir(), 'model.safetensors');
    await writeSafetensorsFile(file, specialTensors(), METADATA);
    expect(
      readFileSync(file).equals(Buffer.from(encodeSafetensors(specialTensors(), METADATA))),
    ).toBe(true);
    const { tensors, metadata } = await readSafetensorsFile(file);
    expect(metadata).toEqual(METADATA);
    for (const [name, entry] of specialTensors())
      expect(
        bytesOf(tensors.get(name)?.data as SafetensorsData).equals(bytesOf(dataOf(entry))),
      ).toBe(true);
  });

  it('property: random tensors round-trip, and re-encoding a decoded file gives the same bytes', () => {
    const tensor = fc
      .record({
        dtype: fc.constantFrom(...SAFETENSORS_DTYPES),
        shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
        seed: fc.uint8Array({ minLength: 216, maxLength: 216 }),
      })
      .map(({ dtype, shape, seed }): SafetensorsTensorInput => {
        const count = shape.reduce((a, b) => a * b, 1);
        const width =
          { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4 }[dtype as string] ??
          (/16$/.test(dtype) ? 2 : 1);
        const raw = seed.slice(0, count * width).buffer;
        const make: Record<SafetensorsDtype, () => SafetensorsData> = {
          F64: () => new Float64Array(raw),
          F32: () => new Float32Array(raw),
          F16: () => new Uint16Array(raw),
          BF16: () => new Uint16Array(raw),
          I64: () => new BigInt64Array(raw),
          U64: () => new BigUint64Array(raw),
          I32: () => new Int32Array(raw),
          U32: () => new Uint32Array(raw),
          I16: () => new Int16Array(raw),
          U16: () => new Uint16Array(raw),
          I8: () => new Int8Array(raw),
          U8: () => new Uint8Array(raw),
          BOOL: () => new Uint8Array(raw).map((v) => v & 1),
        };
        return { dtype, shape, data: make[dtype]() };
      });
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 6 }).filter((s) => s !== '__metadata__'),
          tensor,
          {
            maxKeys: 5,
          },
        ),
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
        (entries, metadata) => {
          const bytes = encodeSafetensors(entries, metadata);
          const decoded = decodeSafetensors(bytes);
          expect(decoded.metadata).toEqual(metadata);
          expect(decoded.tensors.size).toBe(Object.keys(entries).length);
          for (const [name, entry] of Object.entries(entries)) {
            const out = decoded.tensors.get(name);
            expect(out?.dtype).toBe(entry.dtype);
            expect(out?.shape).toEqual(entry.shape);
            expect(bytesOf(out?.data as SafetensorsData).equals(bytesOf(dataOf(entry)))).toBe(true);
          }
          const again = encodeSafetensors(decoded.tensors, decoded.metadata);
          expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('safetensors: an independent reader (Python, json + struct + numpy) reads our files', () => {
  it('agrees on names, dtypes, shapes, bytes, values and bits', async () => {
    const numpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (numpy.status !== 0)
      throw new Error(
        `${PYTHON} cannot import numpy (${numpy.error?.message ?? numpy.stderr.trim()}): install Debian's python3-numpy (apt-get install python3-numpy), which the project's test command sets up`,
      );
    const file = join(freshDir(), 'model.safetensors');
    const input = specialTensors();
    await writeSafetensorsFile(file, input, METADATA);
    const report = JSON.parse(execFileSync(PYTHON, [READER, file], { encoding: 'utf8' })) as {
      metadata: Record<string, string>;
      tensors: {
        name: string;
        dtype: string;
        shape: number[];
        sha256: string;
        values: unknown[];
        bits?: unknown[];
      }[];
    };
    expect(report.metadata).toEqual(METADATA);
    expect(report.tensors.map((t) => t.name).sort()).toEqual([...input.keys()].sort());
    const { tensors } = await readSafetensorsFile(file);
    // the Python reader lists tensors in the order of their bytes, like decodeSafetensors
    expect(report.tensors.map((t) => t.name)).toEqual([...tensors.keys()]);
    for (const t of report.tensors) {
      const entry = input.get(t.name) as SafetensorsTensorInput;
      const data = dataOf(entry);
      expect(t.shape, t.name).toEqual(entry.shape);
      expect(t.dtype, t.name).toBe(tensors.get(t.name)?.dtype);
      expect(t.sha256, t.name).toBe(createHash('sha256').update(bytesOf(data)).digest('hex'));
      expect(t.values, t.name).toEqual(expectedValues(t.dtype as SafetensorsDtype, data));
      if (t.bits) expect(t.bits, t.name).toEqual(expectedBits(data));
    }
  });
});

/** What numpy prints for each element (JSON-safe, as the reader writes it). */
function expectedValues(dtype: SafetensorsDtype, data: SafetensorsData): unknown[] {
  const special = (v: number) =>
    Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v;
  if (dtype === 'F16') return [...(data as Uint16Array)].map((bits) => special(float16(bits)));
  if (dtype === 'BF16')
    return [...(data as Uint16Array)].map((bits) =>
      special(f32FromBits([bits << 16])[0] as number),
    );
  if (dtype === 'BOOL') return [...(data as Uint8Array)].map((v) => v === 1);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return [...data].map(String);
  return [...(data as Float32Array)].map(special);
}

function expectedBits(data: SafetensorsData): unknown[] {
  if (data instanceof Float64Array)
    return [...new BigUint64Array(data.buffer, data.byteOffset, data.length)].map(String);
  if (data instanceof Float32Array)
    return [...new Uint32Array(data.buffer, data.byteOffset, data.length)];
  return [...(data as Uint16Array)];
}

function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

describe('safetensors: corrupt and truncated files are rejected with the file and the problem', () => {
  const valid = () =>
    encodeSafetensors({
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [3], data: new Uint8Array([1, 2, 3]) },
    });
  const tensorA = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  const eightBytes = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40];

  it('every truncation of a valid file is rejected', () => {
    const bytes = valid();
    for (let length = 0; length < bytes.length; length++) {
      const error = expectCorrupt(bytes.subarray(0, length));
      expect(error.message).toMatch(
        /truncated|not valid JSON|must start|belong to no tensor|UTF-8/,
      );
    }
    expectCorrupt(bytes.subarray(0, 5), 'truncated', '5 bytes');
    expectCorrupt(bytes.subarray(0, bytes.length - 1), 'truncated', 'tensor "b"');
  });

  it('the header length', () => {
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 2n ** 40n, true);
    expectCorrupt(big, 'header length 1099511627776', 'larger than');
    const beyond = new Uint8Array(16);
    beyond[0] = 9;
    expectCorrupt(beyond, 'truncated', 'header length is 9', 'only 8');
  });

  it('the header text', () => {
    expectCorrupt(buildFile(`[${tensorA}]`, eightBytes), 'must start with "{"');
    expectCorrupt(buildFile(` {${tensorA}}`, eightBytes), 'must start with "{"');
    expectCorrupt(buildFile(`{${tensorA}`, eightBytes), 'not valid JSON');
    const badUtf8 = buildFile(`{${tensorA}}`, eightBytes);
    badUtf8[12] = 0xff;
    expectCorrupt(badUtf8, 'not valid UTF-8');
    expectCorrupt(buildFile(`{${tensorA},${tensorA}}`, eightBytes), 'repeats the key "a"');
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eightBytes),
      'repeats the key "dtype"',
    );
  });

  it('metadata and entries', () => {
    expectCorrupt(
      buildFile(`{"__metadata__":{"n":1},${tensorA}}`, eightBytes),
      '__metadata__.n',
      'string',
    );
    expectCorrupt(
      buildFile(`{"__metadata__":[],${tensorA}}`, eightBytes),
      '__metadata__ must be an object',
    );
    expectCorrupt(buildFile('{"a":[1]}', []), 'tensor "a" must be an object');
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}', eightBytes),
      'tensor "a"',
      'unexpected key "extra"',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}', eightBytes),
      'tensor "a"',
      'dtype "F8_E4M3"',
      'F32',
    );
    expectCorrupt(
      buildFile('{"a":{"shape":[2],"data_offsets":[0,8]}}', eightBytes),
      'dtype undefined',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}', eightBytes),
      'tensor "a"',
      'shape [1] = -1',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}', eightBytes),
      'shape [0] = 2.5',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', eightBytes),
      'shape must be',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', eightBytes),
      'data_offsets must be [begin, end]',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', eightBytes),
      'end before they begin',
    );
  });

  it('sizes, gaps, overlaps and trailing bytes', () => {
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', eightBytes),
      'shape [3] of F32 needs 12 bytes',
      'hold 8',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eightBytes),
      'bytes [0, 4)',
      'belong to no tensor',
    );
    expectCorrupt(
      buildFile(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        eightBytes,
      ),
      'tensor "b" at [4, 8] overlaps tensor "a"',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', eightBytes),
      '4 bytes after the last tensor',
    );
    expectCorrupt(
      buildFile('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', eightBytes),
      'truncated',
      'ends at byte 16',
      'has 8 bytes',
    );
    expectCorrupt(
      buildFile('{"k":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 2]),
      'BOOL element 1 is 2',
    );
  });

  it('a missing file names the path; bytes must be a Uint8Array', async () => {
    const missing = join(scratch, 'nowhere', 'model.safetensors');
    const error = await readSafetensorsFile(missing).then(
      () => undefined,
      (e: HicraError) => e,
    );
    expect(error?.code).toBe(ErrorCode.CorruptFile);
    expect(error?.message).toContain(missing);
    expect(error?.message).toContain('not found');
    expectHicraError(() => decodeSafetensors([1, 2] as never), {
      code: ErrorCode.InvalidArgument,
      message: ['Uint8Array'],
    });
  });
});

describe('safetensors: bad entries are rejected before anything is written', () => {
  const f32 = new Float32Array([1, 2]);
  it('names the tensor and what is wrong', () => {
    expectHicraError(
      () => encodeSafetensors({ w: { dtype: 'F8' as never, shape: [2], data: f32 } }),
      { code: ErrorCode.InvalidArgument, message: ['tensor "w"', 'unknown dtype "F8"'] },
    );
    expectHicraError(
      () => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }),
      {
        code: ErrorCode.InvalidArgument,
        message: ['dtype F32 needs a Float32Array, got Int32Array'],
      },
    );
    expectHicraError(() => encodeSafetensors({ w: { dtype: 'F16', shape: [2], data: f32 } }), {
      code: ErrorCode.InvalidArgument,
      message: ['needs a Uint16Array'],
    });
    expectHicraError(() => encodeSafetensors({ w: { shape: [3], data: f32 } }), {
      code: ErrorCode.ShapeMismatch,
      message: ['shape [3] has 3 elements, data has 2'],
    });
    expectHicraError(() => encodeSafetensors({ w: { shape: [2, -1], data: f32 } }), {
      code: ErrorCode.ShapeMismatch,
      message: ['shape [1] = -1'],
    });
    expectHicraError(() => encodeSafetensors({ w: { shape: [2], data: [1, 2] as never } }), {
      code: ErrorCode.InvalidArgument,
      message: ['must be a typed array'],
    });
    expectHicraError(
      () => encodeSafetensors({ w: { shape: [2], data: new Uint8ClampedArray(2) as never } }),
      { code: ErrorCode.InvalidArgument, message: ['Uint8ClampedArray'] },
    );
    expectHicraError(() => encodeSafetensors({ w: { shape: [2], data: () => f32 } }), {
      code: ErrorCode.InvalidArgument,
      message: ['dtype is required when data is a function'],
    });
    expectHicraError(() => encodeSafetensors({ __metadata__: { shape: [2], data: f32 } }), {
      code: ErrorCode.InvalidArgument,
      message: ['cannot be named "__metadata__"'],
    });
    expectHicraError(() => encodeSafetensors({ '': { shape: [2], data: f32 } }), {
      code: ErrorCode.InvalidArgument,
      message: ['named ""'],
    });
    expectHicraError(
      () => encodeSafetensors({ k: { dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 3]) } }),
      { code: ErrorCode.InvalidArgument, message: ['BOOL data[1] = 3'] },
    );
    expectHicraError(() => encodeSafetensors({ w: { shape: [2], data: f32 } }, { n: 1 as never }), {
      code: ErrorCode.InvalidArgument,
      message: ['metadata.n must be a string'],
    });
    expectHicraError(() => encodeSafetensors(null as never), {
      code: ErrorCode.InvalidArgument,
      message: ['entries'],
    });
    expectHicraError(
      () => encodeSafetensors({ w: { dtype: 'I32', shape: [2], data: () => new Int32Array(3) } }),
      { code: ErrorCode.ShapeMismatch, message: ['tensor "w"', 'data has 3'] },
    );
  });
});

describe('atomic writes: an existing file is never clobbered by a failed write', () => {
  const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

  it('a data function that throws halfway leaves the old checkpoint intact and no temporary file', async () => {
    const dir = freshDir();
    const file = join(dir, 'model.safetensors');
    await writeSafetensorsFile(file, specialTensors(), METADATA);
    const before = readFileSync(file);
    let called = 0;
    const failing = new Map<string, SafetensorsTensorInput>([
      [
        'first',
        {
          dtype: 'F32',
          shape: [1024],
          data: () => {
            called++;
            return new Float32Array(1024);
          },
        },
      ],
      [
        'second',
        {
          dtype: 'F32',
          shape: [4],
          data: () => {
            called++;
            throw new Error('device lost while reading the weights');
          },
        },
      ],
    ]);
    await expect(writeSafetensorsFile(file, failing)).rejects.toThrow('device lost');
    expect(called).toBe(2); // the first tensor was written to the temporary file
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  });

  it('a lazy tensor of the wrong size fails the write the same way', async () => {
    const dir = freshDir();
    const file = join(dir, 'model.safetensors');
    writeFileSync(file, 'old content');
    const error = await writeSafetensorsFile(file, {
      w: { dtype: 'F32', shape: [4], data: () => new Float32Array(3) },
    }).then(
      () => undefined,
      (e: HicraError) => e,
    );
    expect(error?.code).toBe(ErrorCode.ShapeMismatch);
    expect(readFileSync(file, 'utf8')).toBe('old content');
    expect(leftovers(dir)).toEqual([]);
  });

  it('a failing rename (the target is a directory) removes the temporary file', async () => {
    const dir = freshDir();
    const target = join(dir, 'model.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toMatchObject({
      code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST|EPERM/),
    });
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('x');
    expect(leftovers(dir)).toEqual([]);
  });

  it('an unwritable location fails with the file-system error and writes nothing', async () => {
    const missing = join(scratch, 'no-such-dir', 'model.safetensors');
    await expect(
      writeSafetensorsFile(missing, { w: { shape: [1], data: new Float32Array(1) } }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writeFileAtomic writes text and bytes, replaces a file whole, and checks its arguments', async () => {
    const dir = freshDir();
    const file = join(dir, 'config.json');
    await writeFileAtomic(file, '{"a":1}');
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    expect(readFileSync(file, 'utf8')).toBe('hi');
    const big = (fill: number) => new Uint8Array(1 << 20).fill(fill);
    await Promise.all([writeFileAtomic(file, big(1)), writeFileAtomic(file, big(2))]);
    const after = readFileSync(file);
    expect(after.length).toBe(1 << 20);
    expect(after.every((b) => b === after[0])).toBe(true);
    expect(leftovers(dir)).toEqual([]);
    await expect(writeFileAtomic(file, 42 as never)).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining('data must be a string or a Uint8Array'),
    });
    await expect(writeFileAtomic('', 'x')).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining('path'),
    });
  });
});
