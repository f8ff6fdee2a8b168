/**
 * Hugging Face tensor names and layouts <-> the tfjs transformer's parameters.
 *
 * Hugging Face stores a linear layer PyTorch-style, `[out, in]` (y = x·Wᵀ + b), and keeps the
 * query, key and value projections apart; the transformer here stores `[in, out]` (y = x·W, no
 * transpose in the forward pass) and fuses the three projections into one matrix, queries
 * first. Loading transposes and fuses; saving splits and transposes back. Both are exact copies
 * of float32 values, so a load -> save -> load round trip is bit-exact.
 */
import { CorruptFileError, ShapeError } from '@hicra/spec';
import { tf, type Variable } from '@hicra/tensor';
import { parameterShapes, type TransformerConfig } from '../model/config.js';
import { uniqueVariableName } from '../model/transformer.js';

const SOURCE = '@hicra/policy';

/** Where weights are read from: tensor headers, and one tensor's values as float32 on demand. */
export interface WeightSource {
  /** Where the weights live (a folder), for error messages. */
  readonly where: string;
  readonly tensors: ReadonlyMap<
    string,
    { readonly dtype: string; readonly shape: readonly number[] }
  >;
  readFloat32(name: string): Promise<Float32Array>;
}

/** The dtypes whose values load exactly into float32 (F64 is rounded). */
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Buffers Hugging Face checkpoints may carry that are recomputed here, not loaded. */
const IGNORED = /^model\.(layers\.\d+\.self_attn\.)?rotary_emb\.inv_freq$/;

/** How one Hugging Face tensor lands in one transformer parameter. */
interface Piece {
  /** Hugging Face name. */
  readonly name: string;
  /** Shape in the Hugging Face file. */
  readonly shape: readonly number[];
  /** Transposed (`[out, in]` -> `[in, out]`) when it is a matrix of a linear layer. */
  readonly transpose: boolean;
  /** First column (matrices) or element (vectors) it fills in the parameter. */
  readonly offset: number;
}

interface Mapping {
  /** Transformer parameter name. */
  readonly parameter: string;
  readonly shape: readonly number[];
  readonly pieces: readonly Piece[];
}

/** The mapping of every transformer parameter to the Hugging Face tensors it is made of. */
export function huggingFaceMapping(config: TransformerConfig): Mapping[] {
  const { width: d, heads, kvHeads, headDim } = config;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  const shapes = new Map(parameterShapes(config));
  const out: Mapping[] = [];
  const add = (parameter: string, pieces: Piece[]) => {
    const shape = shapes.get(parameter);
    if (shape === undefined) throw new Error(`internal: no parameter ${parameter}`);
    out.push({ parameter, shape, pieces });
  };
  const same = (name: string, shape: number[]): Piece => ({
    name,
    shape,
    transpose: false,
    offset: 0,
  });
  const linear = (name: string, outSize: number, inSize: number, offset = 0): Piece => ({
    name,
    shape: [outSize, inSize],
    transpose: true,
    offset,
  });
  add('embed.weight', [same('model.embed_tokens.weight', [config.vocabSize, d])]);
  for (let l = 0; l < config.layers; l++) {
    const hf = `model.layers.${l}`;
    const p = `layers.${l}`;
    add(`${p}.attn_norm.weight`, [same(`${hf}.input_layernorm.weight`, [d])]);
    add(`${p}.attn.qkv.weight`, [
      linear(`${hf}.self_attn.q_proj.weight`, q, d, 0),
      linear(`${hf}.self_attn.k_proj.weight`, kv, d, q),
      linear(`${hf}.self_attn.v_proj.weight`, kv, d, q + kv),
    ]);
    if (config.attentionBias !== 'none')
      add(`${p}.attn.qkv.bias`, [
        { ...same(`${hf}.self_attn.q_proj.bias`, [q]), offset: 0 },
        { ...same(`${hf}.self_attn.k_proj.bias`, [kv]), offset: q },
        { ...same(`${hf}.self_attn.v_proj.bias`, [kv]), offset: q + kv },
      ]);
    if (config.qkNorm) {
      add(`${p}.attn.q_norm.weight`, [same(`${hf}.self_attn.q_norm.weight`, [headDim])]);
      add(`${p}.attn.k_norm.weight`, [same(`${hf}.self_attn.k_norm.weight`, [headDim])]);
    }
    add(`${p}.attn.out.weight`, [linear(`${hf}.self_attn.o_proj.weight`, d, q)]);
    if (config.attentionBias === 'all')
      add(`${p}.attn.out.bias`, [same(`${hf}.self_attn.o_proj.bias`, [d])]);
    add(`${p}.mlp_norm.weight`, [same(`${hf}.post_attention_layernorm.weight`, [d])]);
    const hidden = config.mlpWidth;
    for (const [mine, theirs, outSize, inSize] of [
      ['gate', 'gate_proj', hidden, d],
      ['up', 'up_proj', hidden, d],
      ['down', 'down_proj', d, hidden],
    ] as const) {
      add(`${p}.mlp.${mine}.weight`, [linear(`${hf}.mlp.${theirs}.weight`, outSize, inSize)]);
      if (config.mlpBias)
        add(`${p}.mlp.${mine}.bias`, [same(`${hf}.mlp.${theirs}.bias`, [outSize])]);
    }
  }
  add('final_norm.weight', [same('model.norm.weight', [d])]);
  if (!config.tiedEmbeddings)
    add('lm_head.weight', [linear('lm_head.weight', config.vocabSize, d)]);
  return out;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function listed(names: readonly string[], limit = 8): string {
  const shown = names.slice(0, limit).map((n) => JSON.stringify(n));
  return names.length > limit
    ? `${shown.join(', ')} and ${names.length - limit} more`
    : shown.join(', ');
}

/**
 * Checks that the source holds exactly the tensors the config needs, with the right shapes and
 * float dtypes, before anything is allocated. One error lists every problem found.
 */
export function checkHuggingFaceTensors(source: WeightSource, config: TransformerConfig): void {
  const mapping = huggingFaceMapping(config);
  const wanted = new Map<string, readonly number[]>();
  for (const { pieces } of mapping) for (const piece of pieces) wanted.set(piece.name, piece.shape);
  const missing: string[] = [];
  const misShaped: string[] = [];
  const badDtype: string[] = [];
  for (const [name, shape] of wanted) {
    const found = source.tensors.get(name);
    if (found === undefined) missing.push(name);
    else if (!FLOAT_DTYPES.has(found.dtype))
      badDtype.push(`${JSON.stringify(name)} is ${found.dtype}`);
    else if (found.shape.length !== shape.length || found.shape.some((n, i) => n !== shape[i]))
      misShaped.push(
        `${JSON.stringify(name)} is ${shapeText(found.shape)}, config.json implies ${shapeText(shape)}`,
      );
  }
  const unexpected = [...source.tensors.keys()].filter(
    (name) =>
      !wanted.has(name) &&
      !IGNORED.test(name) &&
      // Tied checkpoints sometimes store the shared matrix twice; the embedding is used.
      !(config.tiedEmbeddings && name === 'lm_head.weight'),
  );
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing tensors: ${listed(missing)}`);
  if (misShaped.length > 0) problems.push(`wrong shapes: ${misShaped.slice(0, 8).join('; ')}`);
  if (badDtype.length > 0)
    problems.push(`not floating point (F32, F16, BF16 or F64): ${badDtype.slice(0, 8).join('; ')}`);
  if (unexpected.length > 0)
    problems.push(`unexpected tensors for this config: ${listed(unexpected)}`);
  if (problems.length > 0)
    throw new CorruptFileError(
      `${source.where}: the weights do not match config.json: ${problems.join('. ')}`,
      {
        source: SOURCE,
        details: { file: source.where, missing, misShaped, badDtype, unexpected },
      },
    );
}

/** Throws when a weight is NaN or infinite, naming the tensor and the element. */
function checkFinite(
  values: Float32Array,
  name: string,
  shape: readonly number[],
  where: string,
): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]!)) continue;
    const element = shape.map((_, axis) => {
      const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      return Math.floor(i / stride) % shape[axis]!;
    });
    throw new CorruptFileError(
      `${where}: tensor ${JSON.stringify(name)} holds ${values[i]} at element [${element.join(', ')}] of ${shapeText(shape)}; weights must be finite`,
      {
        source: SOURCE,
        details: { file: where, tensor: name, index: i, value: String(values[i]) },
      },
    );
  }
}

/**
 * Reads every tensor the config needs from `source` into new tfjs variables under the
 * transformer's parameter names, one parameter at a time (at most one parameter and one source
 * tensor are held outside tfjs at once). On any failure the variables made so far are disposed.
 */
export async function readHuggingFaceWeights(
  source: WeightSource,
  config: TransformerConfig,
): Promise<Map<string, Variable>> {
  checkHuggingFaceTensors(source, config);
  const params = new Map<string, Variable>();
  try {
    for (const { parameter, shape, pieces } of huggingFaceMapping(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      const columns = shape.length === 2 ? shape[1]! : size;
      for (const piece of pieces) {
        const values = await source.readFloat32(piece.name);
        checkFinite(values, piece.name, piece.shape, source.where);
        if (piece.transpose) {
          const [outSize, inSize] = piece.shape as [number, number];
          for (let o = 0; o < outSize; o++) {
            const row = o * inSize;
            const column = piece.offset + o;
            for (let i = 0; i < inSize; i++) data[i * columns + column] = values[row + i]!;
          }
        } else data.set(values, piece.offset);
      }
      const initial = tf.tensor(data, [...shape], 'float32');
      params.set(parameter, tf.variable(initial, true, uniqueVariableName(parameter)));
      initial.dispose();
    }
  } catch (error) {
    for (const variable of params.values()) variable.dispose();
    throw error;
  }
  return params;
}

/**
 * The Hugging Face tensors of a model's parameters, each as a function that produces its
 * float32 values when called (so a writer can stream them one at a time).
 */
export function huggingFaceTensors(
  config: TransformerConfig,
  parameters: ReadonlyMap<string, Variable>,
): Map<string, { shape: readonly number[]; values: () => Float32Array }> {
  const out = new Map<string, { shape: readonly number[]; values: () => Float32Array }>();
  for (const { parameter, shape, pieces } of huggingFaceMapping(config)) {
    const variable = parameters.get(parameter);
    if (variable === undefined || !tf.util.arraysEqual(variable.shape, [...shape]))
      throw new ShapeError(
        `the model's parameter ${JSON.stringify(parameter)} is ${variable ? shapeText(variable.shape) : 'missing'}, its config needs ${shapeText(shape)}`,
        { source: SOURCE, details: { parameter } },
      );
    const columns = shape.length === 2 ? shape[1]! : shape[0]!;
    for (const piece of pieces) {
      out.set(piece.name, {
        shape: piece.shape,
        values: () => {
          const data = variable.dataSync() as Float32Array;
          const size = piece.shape.reduce((a, b) => a * b, 1);
          if (!piece.transpose) return data.slice(piece.offset, piece.offset + size);
          const [outSize, inSize] = piece.shape as [number, number];
          const values = new Float32Array(size);
          for (let o = 0; o < outSize; o++) {
            const column = piece.offset + o;
            const row = o * inSize;
            for (let i = 0; i < inSize; i++) values[row + i] = data[i * columns + column]!;
          }
          return values;
        },
      });
    }
  }
  return out;
}
