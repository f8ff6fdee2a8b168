import { InvalidValueError, type RaggedTokensV1, ShapeError } from '@hicra/spec';

const SOURCE = '@hicra/policy';

/**
 * Prompts + responses laid out for one forward pass, prompts **left-padded** to a common
 * length S so that every response starts at column S: `[B, S + T]` ids, per-token absolute
 * positions (0 at the first real prompt token), and a key mask (0 at padding).
 */
export interface SequenceLayout {
  readonly batchSize: number;
  /** S: the longest prompt. */
  readonly promptWidth: number;
  /** S + T. */
  readonly width: number;
  readonly ids: Int32Array;
  readonly positions: Int32Array;
  readonly keyMask: Uint8Array;
  /** `[B]` prompt lengths. */
  readonly promptLengths: Int32Array;
}

/** Checks ragged prompts: offsets well-formed, every prompt non-empty, ids in the vocabulary. */
export function checkPrompts(
  prompts: RaggedTokensV1,
  count: number,
  vocabSize: number,
  what = 'prompts',
): Int32Array {
  const { tokenIds, offsets } = prompts;
  if (!(tokenIds instanceof Int32Array) || !(offsets instanceof Int32Array)) {
    throw new ShapeError(`${what}: tokenIds and offsets must be Int32Arrays`, {
      source: SOURCE,
      details: { argument: what },
    });
  }
  if (offsets.length !== count + 1 || offsets[0] !== 0 || offsets[count] !== tokenIds.length) {
    throw new ShapeError(
      `${what}: offsets must have ${count + 1} entries from 0 to tokenIds.length = ${tokenIds.length}, got ${offsets.length} entries ending at ${offsets[offsets.length - 1]}`,
      {
        source: SOURCE,
        details: { argument: `${what}.offsets`, expected: count + 1, actual: offsets.length },
      },
    );
  }
  const lengths = new Int32Array(count);
  for (let p = 0; p < count; p++) {
    const length = offsets[p + 1]! - offsets[p]!;
    if (length < 1) {
      throw new InvalidValueError(
        `${what}: prompt ${p} is empty; a prompt needs at least one token (e.g. BOS) to predict the first response token`,
        {
          source: SOURCE,
          details: { argument: what, index: p },
        },
      );
    }
    lengths[p] = length;
  }
  checkIds(tokenIds, vocabSize, `${what}.tokenIds`);
  return lengths;
}

export function checkIds(
  ids: ArrayLike<number>,
  vocabSize: number,
  what: string,
  mask?: Uint8Array,
): void {
  for (let k = 0; k < ids.length; k++) {
    if (mask && mask[k] === 0) continue;
    const id = ids[k]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new InvalidValueError(
        `${what}[${k}] = ${id} is outside the vocabulary [0, ${vocabSize})`,
        {
          source: SOURCE,
          details: { argument: what, index: k, value: id, vocabSize },
        },
      );
    }
  }
}

/**
 * Lays out `rows` sequences: row r uses prompt `promptOf(r)` followed by `responseLength`
 * response tokens from `responses` (`[rows·T]`, masked by `responseMask`).
 */
export function layoutSequences(
  prompts: RaggedTokensV1,
  promptLengths: Int32Array,
  rows: number,
  promptOf: (row: number) => number,
  responseLength: number,
  responses?: Int32Array,
  responseMask?: Uint8Array,
  padId = 0,
): SequenceLayout {
  let promptWidth = 0;
  for (let r = 0; r < rows; r++) promptWidth = Math.max(promptWidth, promptLengths[promptOf(r)]!);
  const width = promptWidth + responseLength;
  const ids = new Int32Array(rows * width).fill(padId);
  const positions = new Int32Array(rows * width);
  const keyMask = new Uint8Array(rows * width);
  const lengths = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const p = promptOf(r);
    const length = promptLengths[p]!;
    lengths[r] = length;
    const start = r * width + (promptWidth - length);
    ids.set(prompts.tokenIds.subarray(prompts.offsets[p]!, prompts.offsets[p + 1]!), start);
    for (let j = 0; j < length; j++) {
      positions[start + j] = j;
      keyMask[start + j] = 1;
    }
    for (let t = 0; t < responseLength; t++) {
      const k = r * width + promptWidth + t;
      positions[k] = length + t;
      if (responses) {
        ids[k] = responses[r * responseLength + t]!;
        keyMask[k] = responseMask ? responseMask[r * responseLength + t]! : 1;
      }
    }
  }
  return { batchSize: rows, promptWidth, width, ids, positions, keyMask, promptLengths: lengths };
}
