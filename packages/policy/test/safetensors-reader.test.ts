import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, type HicraError } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  openSafetensorsFile,
  type SafetensorsData,
  type SafetensorsFileReader,
  type SafetensorsTensorInput,
  writeSafetensorsFile,
} from '../src/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
const PREFIX = '@hicra/policy: ';

let scratch: string;
let fileHandle: { read: FileHandle['read'] };
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-safetensors-reader-'));
  const probe = await open(fileURLToPath(import.meta.url), 'r');
  fileHandle = Object.getPrototypeOf(probe);
  await probe.close();
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});
let counter = 0;
const freshFile = (bytes?: Uint8Array) => {
  const dir = join(scratch, `case-${counter++}`);
  mkdirSync(dir);
  const file = join(dir, 'model.safetensors');
  if (bytes) writeFileSync(file, bytes);
  return file;
};

const bytesOf = (data: ArrayBufferView) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const tagOf = (data: SafetensorsData) => Object.prototype.toString.call(data);

/** Opening `bytes` as a file fails with exactly `${file}: ${problem}`. */
async function expectOpenFails(bytes: Uint8Array, problem: string): Promise<HicraError> {
  const file = freshFile(bytes);
  const error = await expectHicraRejection(openSafetensorsFile(file));
  expect(error.code).toBe(ErrorCode.CorruptFile);
  expect(error.message).toBe(`${PREFIX}${file}: ${problem}`);
  expect(error.details['file']).toBe(file);
  return error;
}

/** A file built from the specification: u64 LE header length, header JSON, raw bytes. */
function buildFile(header: string, data: number[] | Uint8Array, length?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Counts the bytes read through every FileHandle while `fn` runs. */
async function bytesReadDuring(fn: () => Promise<unknown>): Promise<number> {
  const spy = vi.spyOn(fileHandle, 'read');
  await fn();
  let total = 0;
  for (const result of spy.mock.results)
    total += ((await result.value) as { bytesRead: number }).bytesRead;
  spy.mockRestore();
  return total;
}

function safetensorsFilesOf(folder: string): string[] {
  return readdirSync(join(FIXTURES, folder))
    .filter((name) => name.endsWith('.safetensors'))
    .map((name) => join(FIXTURES, folder, name));
}

const FIXTURE_FOLDERS = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

describe('openSafetensorsFile: the golden Hugging Face fixtures read as decodeSafetensors reads them', () => {
  it('finds the folders the fixtures README lists', () => {
    expect(FIXTURE_FOLDERS).toEqual([
      'llama-bf16',
      'llama3-ropescaling',
      'qwen2-tied',
      'qwen2-untied-sharded',
      'qwen3-qknorm',
    ]);
  });

  for (const folder of FIXTURE_FOLDERS)
    it(`${folder}: every tensor, byte for byte, and its float32 value`, async () => {
      for (const path of safetensorsFilesOf(folder)) {
        const bytes = readFileSync(path);
        const whole = decodeSafetensors(bytes, path);
        const reader = await openSafetensorsFile(path);
        try {
          expect(reader.path).toBe(path);
          expect(reader.metadata).toEqual(whole.metadata);
          expect(reader.metadata).toEqual({ format: 'pt' });
          expect([...reader.tensors.keys()]).toEqual([...whole.tensors.keys()]);
          let dataBytes = 0;
          for (const [name, expected] of whole.tensors) {
            const info = reader.tensors.get(name);
            expect(info).toEqual({
              name,
              dtype: expected.dtype,
              shape: expected.shape,
              byteLength: expected.data.byteLength,
            });
            dataBytes += expected.data.byteLength;
            const data = await reader.read(name);
            expect(tagOf(data), name).toBe(tagOf(expected.data));
            expect(data.length, name).toBe(expected.data.length);
            expect(bytesOf(data).equals(bytesOf(expected.data)), name).toBe(true);
            const float = await reader.readFloat32(name);
            // BF16 widened by hand (bits << 16), F32 as stored
            const widened =
              expected.dtype === 'BF16'
                ? new Float32Array(
                    Uint32Array.from(expected.data as Uint16Array, (h) => h << 16).buffer,
                  )
                : (expected.data as Float32Array);
            expect(bytesOf(float).equals(bytesOf(widened)), name).toBe(true);
          }
          const headerLength = Number(bytes.readBigUInt64LE(0));
          expect(8 + headerLength + dataBytes).toBe(bytes.length);
        } finally {
          await reader.close();
        }
      }
    });

  it('the BF16 fixture is BF16 and the others F32, as the README says', async () => {
    const dtypes = async (folder: string) => {
      const seen = new Set<string>();
      for (const path of safetensorsFilesOf(folder)) {
        const reader = await openSafetensorsFile(path);
        for (const { dtype } of reader.tensors.values()) seen.add(dtype);
        await reader.close();
      }
      return [...seen];
    };
    expect(await dtypes('llama-bf16')).toEqual(['BF16']);
    expect(await dtypes('qwen2-tied')).toEqual(['F32']);
  });

  it('reads tensors concurrently', async () => {
    const path = join(FIXTURES, 'qwen2-tied', 'model.safetensors');
    const whole = decodeSafetensors(readFileSync(path), path);
    const reader = await openSafetensorsFile(path);
    const names = [...reader.tensors.keys()];
    const all = await Promise.all(names.map((name) => reader.read(name)));
    await reader.close();
    names.forEach((name, i) => {
      const expected = whole.tensors.get(name)?.data as SafetensorsData;
      expect(bytesOf(all[i] as SafetensorsData).equals(bytesOf(expected)), name).toBe(true);
    });
  });
});

describe('openSafetensorsFile: every dtype, and files written by hand from the specification', () => {
  const entries = new Map<string, SafetensorsTensorInput>([
    ['f64', { shape: [4], data: new Float64Array([Math.PI, 1e300, -1e-300, 1 + 2 ** -30]) }],
    ['f32', { shape: [2, 2], data: new Float32Array([1, -0, Infinity, 2 ** -149]) }],
    ['f16', { dtype: 'F16', shape: [4], data: new Uint16Array([0x3c00, 0x0001, 0xfc00, 0x7bff]) }],
    ['bf16', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x8001]) }],
    ['i64', { shape: [1], data: new BigInt64Array([-(2n ** 63n)]) }],
    ['u64', { shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) }],
    ['i32', { shape: [1], data: new Int32Array([-7]) }],
    ['u32', { shape: [1], data: new Uint32Array([7]) }],
    ['i16', { shape: [1], data: new Int16Array([-7]) }],
    ['u16', { shape: [1], data: new Uint16Array([7]) }],
    ['i8', { shape: [1], data: new Int8Array([-7]) }],
    ['u8', { shape: [3], data: new Uint8Array([0, 7, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }],
    ['scalar', { shape: [], data: new Float32Array([42]) }],
    ['empty', { shape: [3, 0], data: new Float32Array(0) }],
  ]);

  it('read returns what decodeSafetensors returns; readFloat32 converts the float dtypes', async () => {
    const file = freshFile();
    await writeSafetensorsFile(file, entries, { note: 'x' });
    const whole = decodeSafetensors(readFileSync(file), file);
    const reader = await openSafetensorsFile(file);
    expect(reader.metadata).toEqual({ note: 'x' });
    expect([...reader.tensors.keys()]).toEqual([...whole.tensors.keys()]);
    for (const [name, expected] of whole.tensors) {
      const data = await reader.read(name);
      expect(tagOf(data), name).toBe(tagOf(expected.data));
      expect(bytesOf(data).equals(bytesOf(expected.data)), name).toBe(true);
      expect(reader.tensors.get(name)?.shape).toEqual(entries.get(name)?.shape);
    }
    expect([...(await reader.readFloat32('f64'))]).toEqual(
      [Math.PI, 1e300, -1e-300, 1 + 2 ** -30].map(Math.fround),
    );
    expect([...(await reader.readFloat32('f16'))]).toEqual([1, 2 ** -24, -Infinity, 65504]);
    const bf16 = await reader.readFloat32('bf16');
    expect([bf16[0], bf16[1]]).toEqual([1, -(2 ** -133)]);
    expect(await reader.readFloat32('scalar')).toEqual(new Float32Array([42]));
    expect(await reader.readFloat32('empty')).toEqual(new Float32Array(0));
    await reader.close();
  });

  it('a hand-built file with unaligned offsets reads the same as decodeSafetensors', async () => {
    const header =
      '{"__metadata__":{"format":"pt"},"c":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},"b":{"dtype":"I64","shape":[1],"data_offsets":[11,19]}}';
    const data = [
      7, 8, 9, 0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    const bytes = buildFile(header, data);
    const file = freshFile(bytes);
    const reader = await openSafetensorsFile(file);
    expect([...reader.tensors.keys()]).toEqual(['c', 'a', 'b']);
    expect(await reader.read('a')).toEqual(new Float32Array([1, -2.5]));
    expect(await reader.read('b')).toEqual(new BigInt64Array([-2n]));
    expect(await reader.read('c')).toEqual(new Uint8Array([7, 8, 9]));
    for (const [name, { data: expected }] of decodeSafetensors(bytes).tensors)
      expect(bytesOf(await reader.read(name)).equals(bytesOf(expected))).toBe(true);
    await reader.close();
  });

  it('refuses readFloat32 of integer and BOOL tensors, unknown names, and reads after close', async () => {
    const file = freshFile();
    await writeSafetensorsFile(file, entries);
    const reader = await openSafetensorsFile(file);
    for (const [name, dtype] of [
      ['i64', 'I64'],
      ['u8', 'U8'],
      ['bool', 'BOOL'],
    ]) {
      const error = await expectHicraRejection(reader.readFloat32(name as string));
      expect(error.code).toBe(ErrorCode.InvalidArgument);
      expect(error.message).toBe(
        `${PREFIX}${file}: tensor "${name}" has dtype ${dtype}; readFloat32 reads F32, F16, BF16 and F64 only (read() returns it as stored)`,
      );
      expect(error.details).toMatchObject({ file, tensor: name, dtype });
    }
    const unknown = await expectHicraRejection(reader.read('f31'));
    expect(unknown.code).toBe(ErrorCode.InvalidArgument);
    expect(unknown.message).toBe(
      `${PREFIX}${file}: no tensor "f31"; it has 15 tensors, among them "f32", "f16", "f64", "bf16", "bool"`,
    );
    expect((await expectHicraRejection(reader.readFloat32(7 as never))).message).toContain(
      'the tensor name must be a string, got number',
    );
    await reader.close();
    await reader.close(); // twice is fine
    const closed = await expectHicraRejection(reader.read('f32'));
    expect(closed.message).toBe(`${PREFIX}${file}: cannot read tensor "f32", the reader is closed`);
  });
});

describe('openSafetensorsFile: corrupt files are refused, naming the file and the tensor', () => {
  const tensorA = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  const eightBytes = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40];
  const valid = () =>
    encodeSafetensors({
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [3], data: new Uint8Array([1, 2, 3]) },
    });

  it('truncated: in the header length, in the header, in the data', async () => {
    const bytes = valid();
    await expectOpenFails(
      bytes.subarray(0, 5),
      'truncated: 5 bytes, fewer than the 8 of the header length',
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    await expectOpenFails(
      bytes.subarray(0, 8 + headerLength - 1),
      `truncated: the header length is ${headerLength} bytes but only ${headerLength - 1} follow it`,
    );
    const error = await expectOpenFails(
      bytes.subarray(0, bytes.length - 1),
      'truncated: tensor "b" ends at byte 11 of the data but the data has 10 bytes',
    );
    expect(error.details['tensor']).toBe('b');
  });

  it('a header length beyond the file, or of 2^63, is refused before anything is allocated for it', async () => {
    let read = await bytesReadDuring(() =>
      expectOpenFails(
        buildFile(`{${tensorA}}`, eightBytes, 99_999_999n),
        'truncated: the header length is 99999999 bytes but only 62 follow it',
      ),
    );
    expect(read).toBe(8); // the header length, nothing more
    read = await bytesReadDuring(() =>
      expectOpenFails(
        buildFile(`{${tensorA}}`, eightBytes, 2n ** 63n),
        'header length 9223372036854775808 is larger than the 100000000 bytes allowed',
      ),
    );
    expect(read).toBe(8);
    await expectOpenFails(
      buildFile(`{${tensorA}}`, eightBytes, 2n ** 64n - 1n),
      'header length 18446744073709551615 is larger than the 100000000 bytes allowed',
    );
  });

  it('overlapping offsets, a gap, trailing bytes', async () => {
    await expectOpenFails(
      buildFile(`{${tensorA},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eightBytes),
      'tensor "b" at [4, 8] overlaps tensor "a"',
    );
    await expectOpenFails(
      buildFile(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}',
        eightBytes,
      ),
      'bytes [4, 6) of the data belong to no tensor (before tensor "b")',
    );
    await expectOpenFails(
      buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', eightBytes),
      '4 bytes after the last tensor belong to no tensor',
    );
  });

  it('an unsupported dtype, a shape that does not match the offsets, a bad header', async () => {
    await expectOpenFails(
      buildFile('{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}', eightBytes),
      'tensor "a" has dtype "F8_E4M3", not one of F64, F32, F16, BF16, I64, U64, I32, U32, I16, U16, I8, U8, BOOL',
    );
    await expectOpenFails(
      buildFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', eightBytes),
      'tensor "a": shape [3] of F32 needs 12 bytes, data_offsets [0, 8] hold 8',
    );
    await expectOpenFails(
      buildFile('{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}', eightBytes),
      'tensor "a": shape [1] = -1 is not a non-negative integer',
    );
    await expectOpenFails(
      buildFile(`{${tensorA},${tensorA}}`, eightBytes),
      'the header repeats the key "a"',
    );
    await expectOpenFails(
      buildFile(` {${tensorA}}`, eightBytes),
      'the header must start with "{", got " {\\"a\\":{\\"dtype\\":\\""',
    );
    const badUtf8 = buildFile(`{${tensorA}}`, eightBytes);
    badUtf8[12] = 0xff;
    await expectOpenFails(badUtf8, 'the header is not valid UTF-8');
  });

  it('a file that got shorter after it was opened', async () => {
    const file = freshFile();
    await writeSafetensorsFile(file, {
      big: { shape: [1024], data: new Float32Array(1024).fill(1) },
      small: { shape: [2], data: new Float32Array([3, 4]) },
    });
    const reader = await openSafetensorsFile(file);
    const headerEnd = readFileSync(file).length - 4 * 1026;
    expect(await reader.readFloat32('small')).toEqual(new Float32Array([3, 4]));
    truncateSync(file, headerEnd + 100);
    const error = await expectHicraRejection(reader.read('big'));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toBe(
      `${PREFIX}${file}: truncated: tensor "big" is bytes [${headerEnd}, ${headerEnd + 4096}) of the file, but the file ends at byte ${headerEnd + 100} (it changed after it was opened)`,
    );
    expect(error.details).toMatchObject({ file, tensor: 'big', expected: 4096, actual: 100 });
    await reader.close();
  });

  it('BOOL bytes other than 0 and 1 are refused when the tensor is read', async () => {
    const file = freshFile(
      buildFile('{"k":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 2]),
    );
    const reader = await openSafetensorsFile(file);
    const error = await expectHicraRejection(reader.read('k'));
    expect(error.message).toBe(`${PREFIX}${file}: tensor "k": BOOL element 1 is 2, not 0 or 1`);
    await reader.close();
  });

  it('a missing file, a folder, a bad path; a failed open leaves no file open', async () => {
    const descriptors = () =>
      existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined;
    const before = descriptors();
    const missing = join(scratch, 'nowhere', 'model.safetensors');
    const error = await expectHicraRejection(openSafetensorsFile(missing));
    expect(error.message).toBe(`${PREFIX}${missing}: safetensors file not found`);
    const folder = join(scratch, `folder-${counter++}`);
    mkdirSync(folder);
    expect((await expectHicraRejection(openSafetensorsFile(folder))).message).toBe(
      `${PREFIX}${folder}: not a regular file`,
    );
    const broken = freshFile(buildFile(`{${tensorA}`, eightBytes));
    expect((await expectHicraRejection(openSafetensorsFile(broken))).message).toContain(
      'not valid JSON',
    );
    expect(descriptors()).toBe(before); // the folder's and the broken file's handles were closed
    expect((await expectHicraRejection(openSafetensorsFile('' as never))).code).toBe(
      ErrorCode.InvalidArgument,
    );
  });
});

describe('openSafetensorsFile: reads only what is asked for', () => {
  it('opening a 64 MiB file and reading a small tensor reads a few hundred bytes', async () => {
    const file = freshFile();
    const big = 16 << 20; // elements: 64 MiB of F32
    await writeSafetensorsFile(file, {
      big: {
        dtype: 'F32',
        shape: [big],
        data: () => {
          const values = new Float32Array(big);
          values[big - 1] = 7;
          return values;
        },
      },
      small: { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    });
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(64 * 2 ** 20);

    const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
    let reader: SafetensorsFileReader | undefined;
    let small: Float32Array | undefined;
    const read = await bytesReadDuring(async () => {
      reader = await openSafetensorsFile(file);
      small = await reader.readFloat32('small');
    });
    const grown = process.memoryUsage().arrayBuffers - arrayBuffersBefore;
    expect(small).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(read).toBeLessThan(1024); // 8 + header (~130 bytes) + 16
    expect(grown).toBeLessThan(8 * 2 ** 20); // far less than the 64 MiB of the file

    // the counter does count tensor reads: reading the big one reads exactly its bytes
    const again = await bytesReadDuring(async () => {
      const values = (await reader?.readFloat32('big')) as Float32Array;
      expect(values.length).toBe(big);
      expect(values[big - 1]).toBe(7);
    });
    expect(again).toBe(4 * big);
    await reader?.close();
  });
});
