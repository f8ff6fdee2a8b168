/**
 * The engine conformance suite: the behaviour every `TrainingClientV1` / `SamplingClientV1`
 * pair must show, whatever runs it (the local tfjs engine, a Tinker client, a third-party
 * engine). Framework-free: it returns a report, or throws from `assertEngineConformance`, so it
 * runs under any test runner or none.
 */
import type {
  AdamParamsV1,
  DatumV1,
  EngineInfoV1,
  LossNameV1,
  LossSpecV1,
  SamplingClientV1,
  TrainingClientV1,
} from '../engine.js';
import { HicraError } from '../errors.js';
import type { ScoreRequestV1 } from '../policy.js';

/** One engine under test and how to release it. */
export interface EngineUnderTest {
  readonly training: TrainingClientV1;
  dispose(): Promise<void> | void;
}

/**
 * Makes a fresh engine. Every call must give a model with the **same initial weights** (a
 * seeded initialisation, the same base model): the accumulation check compares two engines.
 */
export type EngineFactory = () => Promise<EngineUnderTest>;

export interface EngineConformanceOptions {
  /** Vocabulary of the generated tokens. Default: `info().vocabSize`. */
  readonly vocabSize?: number;
  /**
   * Absolute tolerance of log-prob comparisons between different computations of the same
   * quantity (accumulated vs one-shot gradients, `forward` vs the sampler). Default 1e-4.
   */
  readonly tolerance?: number;
  /**
   * Tolerance of the state round trip (restored weights and moments, the same steps again).
   * Default 0: exact, as the contract promises.
   */
  readonly stateTolerance?: number;
  /** Seed of the generated datums. Default 20251207. */
  readonly seed?: number;
}

/** The outcome of one check. */
export interface ConformanceCheck {
  readonly name: EngineConformanceCheckName;
  readonly passed: boolean;
  /** What was checked, or what went wrong. */
  readonly message: string;
}

export interface ConformanceReport {
  /** True when every check passed. */
  readonly passed: boolean;
  readonly checks: readonly ConformanceCheck[];
}

/** The checks, in the order they run. */
export const ENGINE_CONFORMANCE_CHECKS = [
  'info',
  'forward-outputs',
  'gradient-accumulation',
  'optim-step-needs-gradient',
  'state-round-trip',
  'sampler-seed',
  'sampler-frozen',
  'forward-matches-sampler',
  'rejects-bad-input',
] as const;
export type EngineConformanceCheckName = (typeof ENGINE_CONFORMANCE_CHECKS)[number];

/** Thrown inside a check: the message becomes the check's failure message. */
class CheckFailure extends Error {}

interface Context {
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly tolerance: number;
  readonly stateTolerance: number;
  readonly seed: number;
}

/**
 * Runs every check of {@link ENGINE_CONFORMANCE_CHECKS} on fresh engines from `factory` (one or
 * two per check, each disposed after its check) and reports each as passed or failed with a
 * message. Never throws for a failing engine; a factory that throws fails the check it serves.
 *
 * - `info`: a model name, a positive vocabulary, capabilities that list the Tinker losses.
 * - `forward-outputs`: one output per datum, `[N]` finite log-probs <= 0, entropies (when the
 *   capability says so) finite and >= 0, metrics finite; `forward` accumulates nothing.
 * - `gradient-accumulation`: `forwardBackward` on A then on B, then `optimStep`, moves the
 *   weights as `forwardBackward` on A ∪ B then `optimStep` does (log-probs of a probe datum,
 *   to `tolerance`; `grad_norm` too where both report it); the step uses a large `eps` so that
 *   Adam is sensitive to the gradient's scale (a mean instead of a sum fails).
 * - `optim-step-needs-gradient`: `optimStep` rejects on a fresh engine and right after another
 *   `optimStep`.
 * - `state-round-trip`: `saveState`, two more steps, `loadState`, the same two steps again:
 *   the probe's log-probs after `loadState` and after the repeated steps equal the first ones
 *   (to `stateTolerance`, exact by default), so weights, Adam moments and the step count
 *   are restored.
 * - `sampler-seed`: a sampler from `saveWeightsForSampler` gives the same tokens and log-probs
 *   for the same seed, and other tokens somewhere for another seed.
 * - `sampler-frozen`: the sampler's `computeLogProbs` does not change when the training client
 *   takes a step.
 * - `forward-matches-sampler`: `forward` log-probs of a prompt + response datum equal the
 *   sampler's `computeLogProbs` of the response (to `tolerance`).
 * - `rejects-bad-input`: `HicraError` rejections for a length mismatch, an id outside the
 *   vocabulary, a NaN advantage, a missing advantage, an empty datum, an unknown loss name, and
 *   a learning rate <= 0 or NaN; the rejected `forwardBackward` calls accumulate nothing.
 *
 * Sampling clients with a `dispose()` method are disposed after use.
 */
export async function runEngineConformance(
  factory: EngineFactory,
  options: EngineConformanceOptions = {},
): Promise<ConformanceReport> {
  const checks: ConformanceCheck[] = [];
  let context: Context | undefined;
  let infoFailure: string | undefined;
  try {
    context = await withEngine(factory, async ({ training }) => {
      const info = await training.info();
      const failure = describeInfoProblem(info);
      if (failure !== undefined) throw new CheckFailure(failure);
      const vocabSize = options.vocabSize ?? info.vocabSize;
      return {
        vocabSize,
        contextLength: info.contextLength ?? 64,
        tolerance: options.tolerance ?? 1e-4,
        stateTolerance: options.stateTolerance ?? 0,
        seed: options.seed ?? 20251207,
      };
    });
  } catch (error) {
    infoFailure = messageOf(error);
  }
  checks.push(
    infoFailure === undefined
      ? {
          name: 'info',
          passed: true,
          message: `vocabulary ${context!.vocabSize}, context length ${context!.contextLength}`,
        }
      : { name: 'info', passed: false, message: infoFailure },
  );
  const runners: Record<
    Exclude<EngineConformanceCheckName, 'info'>,
    (factory: EngineFactory, context: Context) => Promise<string>
  > = {
    'forward-outputs': checkForwardOutputs,
    'gradient-accumulation': checkGradientAccumulation,
    'optim-step-needs-gradient': checkOptimStepNeedsGradient,
    'state-round-trip': checkStateRoundTrip,
    'sampler-seed': checkSamplerSeed,
    'sampler-frozen': checkSamplerFrozen,
    'forward-matches-sampler': checkForwardMatchesSampler,
    'rejects-bad-input': checkRejectsBadInput,
  };
  for (const name of ENGINE_CONFORMANCE_CHECKS) {
    if (name === 'info') continue;
    if (context === undefined) {
      checks.push({ name, passed: false, message: 'not run: the info check failed' });
      continue;
    }
    try {
      checks.push({ name, passed: true, message: await runners[name](factory, context) });
    } catch (error) {
      checks.push({ name, passed: false, message: messageOf(error) });
    }
  }
  return { passed: checks.every((c) => c.passed), checks };
}

/**
 * {@link runEngineConformance}, throwing an `Error` that lists every failed check and its
 * message when any fails. Resolves to the report otherwise.
 */
export async function assertEngineConformance(
  factory: EngineFactory,
  options: EngineConformanceOptions = {},
): Promise<ConformanceReport> {
  const report = await runEngineConformance(factory, options);
  const failures = report.checks.filter((c) => !c.passed);
  if (failures.length > 0) {
    throw new Error(
      `engine conformance: ${failures.length} of ${report.checks.length} checks failed:\n${failures
        .map((c) => `- ${c.name}: ${c.message}`)
        .join('\n')}`,
    );
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// The checks. Each returns a success message or throws (a CheckFailure, or the engine's error).

function describeInfoProblem(info: EngineInfoV1): string | undefined {
  if (typeof info !== 'object' || info === null) return 'info() did not return an object';
  if (typeof info.modelName !== 'string' || info.modelName.length === 0)
    return `info().modelName must be a non-empty string, got ${JSON.stringify(info.modelName)}`;
  if (!Number.isInteger(info.vocabSize) || info.vocabSize < 2)
    return `info().vocabSize must be an integer >= 2, got ${info.vocabSize}`;
  if (
    info.contextLength !== undefined &&
    (!Number.isInteger(info.contextLength) || info.contextLength < 10)
  )
    return `info().contextLength must be an integer >= 10 for these checks, got ${info.contextLength}`;
  const capabilities = info.capabilities;
  if (typeof capabilities !== 'object' || capabilities === null)
    return 'info().capabilities is missing';
  for (const key of ['entropies', 'klTerm', 'entropyBonus', 'temperature'] as const) {
    if (typeof capabilities[key] !== 'boolean')
      return `info().capabilities.${key} must be a boolean, got ${String(capabilities[key])}`;
  }
  const losses: readonly string[] = Array.isArray(capabilities.losses) ? capabilities.losses : [];
  for (const loss of ['cross-entropy', 'importance-sampling'] as const) {
    if (!losses.includes(loss))
      return `info().capabilities.losses must include the Tinker built-in "${loss}" (the checks use it), got ${JSON.stringify(capabilities.losses)}`;
  }
  return undefined;
}

async function checkForwardOutputs(factory: EngineFactory, context: Context): Promise<string> {
  return withEngine(factory, async ({ training }) => {
    const info = await training.info();
    const rng = generator(context.seed + 1);
    const data = [
      datum(rng, context, 3, { weights: true }),
      datum(rng, context, 7, { weights: true }),
    ];
    const result = await training.forward(data, { name: 'cross-entropy' });
    checkOutputs(result.outputs, data, info.capabilities.entropies, 'forward');
    for (const [key, value] of Object.entries(result.metrics)) {
      if (!Number.isFinite(value))
        throw new CheckFailure(`forward: metric ${key} is ${value}, expected a finite number`);
    }
    const bare = await training.forward(data);
    if (bare.outputs.length !== data.length)
      throw new CheckFailure(
        `forward without a loss returned ${bare.outputs.length} outputs for ${data.length} datums`,
      );
    await expectRejection(
      () => training.optimStep(adam()),
      'optimStep after forward only (forward must not accumulate a gradient)',
    );
    return `2 datums: log-probs${info.capabilities.entropies ? ' and entropies' : ''} of the right lengths, finite`;
  });
}

async function checkGradientAccumulation(
  factory: EngineFactory,
  context: Context,
): Promise<string> {
  const rng = generator(context.seed + 2);
  const first = [
    datum(rng, context, 5, { weights: true }),
    datum(rng, context, 8, { weights: true }),
  ];
  const second = [datum(rng, context, 6, { weights: true })];
  const probe = [datum(rng, context, 9)];
  const loss: LossSpecV1 = { name: 'cross-entropy' };
  // eps far above the gradient's elements: the step is close to lr·g, so its size follows the
  // gradient's (plain Adam is invariant to the gradient's scale and would hide a mean).
  const params = adam({ learningRate: 0.05, eps: 1 });
  const split = await withEngine(factory, async ({ training }) => {
    const before = await probeLogProbs(training, probe);
    await training.forwardBackward(first, loss);
    await training.forwardBackward(second, loss);
    const step = await training.optimStep(params);
    return { before, after: await probeLogProbs(training, probe), step };
  });
  const union = await withEngine(factory, async ({ training }) => {
    await training.forwardBackward([...first, ...second], loss);
    const step = await training.optimStep(params);
    return { after: await probeLogProbs(training, probe), step };
  });
  const moved = maxAbsDifference(split.before, split.after);
  if (!(moved > 10 * context.tolerance))
    throw new CheckFailure(
      `inconclusive: one step moved the probe's log-probs by only ${moved} (tolerance ${context.tolerance}); the step must change the weights measurably`,
    );
  compareClose(
    split.after,
    union.after,
    context.tolerance,
    'probe log-probs after forwardBackward(A), forwardBackward(B), optimStep vs forwardBackward(A ∪ B), optimStep',
  );
  const normSplit = split.step.metrics.grad_norm;
  const normUnion = union.step.metrics.grad_norm;
  let norms = '';
  if (normSplit !== undefined && normUnion !== undefined) {
    const scale = Math.max(1, Math.abs(normUnion));
    if (!(Math.abs(normSplit - normUnion) <= 1e-3 * scale))
      throw new CheckFailure(
        `grad_norm after two forwardBackward calls is ${normSplit}, after one call on their union ${normUnion}: accumulation must sum the gradients`,
      );
    norms = `, grad_norm ${normSplit} both ways`;
  }
  return `two calls then a step match one call on their union (probe moved by ${moved.toPrecision(3)}${norms})`;
}

async function checkOptimStepNeedsGradient(
  factory: EngineFactory,
  context: Context,
): Promise<string> {
  return withEngine(factory, async ({ training }) => {
    await expectRejection(() => training.optimStep(adam()), 'optimStep on a fresh engine');
    const rng = generator(context.seed + 3);
    await training.forwardBackward([datum(rng, context, 4, { weights: true })], {
      name: 'cross-entropy',
    });
    await training.optimStep(adam());
    await expectRejection(
      () => training.optimStep(adam()),
      'a second optimStep without forwardBackward in between (the gradient must be cleared)',
    );
    return 'rejects on a fresh engine and right after a step';
  });
}

async function checkStateRoundTrip(factory: EngineFactory, context: Context): Promise<string> {
  const rng = generator(context.seed + 4);
  const batches = [0, 1, 2].map(() => [
    datum(rng, context, 5, { weights: true }),
    datum(rng, context, 7, { weights: true }),
  ]);
  const probe = [datum(rng, context, 8)];
  const loss: LossSpecV1 = { name: 'cross-entropy' };
  const params = adam({ learningRate: 0.02 });
  return withEngine(factory, async ({ training }) => {
    await training.forwardBackward(batches[0]!, loss);
    await training.optimStep(params);
    const location = await training.saveState('conformance-state');
    if (typeof location !== 'string' || location.length === 0)
      throw new CheckFailure(`saveState resolved to ${JSON.stringify(location)}, expected a path`);
    const saved = await probeLogProbs(training, probe);
    for (const batch of batches.slice(1)) {
      await training.forwardBackward(batch, loss);
      await training.optimStep(params);
    }
    const continued = await probeLogProbs(training, probe);
    if (!(maxAbsDifference(saved, continued) > 10 * context.tolerance))
      throw new CheckFailure(
        'inconclusive: two steps after saveState did not move the probe log-probs measurably',
      );
    await training.loadState(location);
    compareClose(
      await probeLogProbs(training, probe),
      saved,
      context.stateTolerance,
      'probe log-probs right after loadState vs right after saveState (the weights)',
    );
    for (const batch of batches.slice(1)) {
      await training.forwardBackward(batch, loss);
      await training.optimStep(params);
    }
    compareClose(
      await probeLogProbs(training, probe),
      continued,
      context.stateTolerance,
      'probe log-probs after the same two steps from the loaded state vs from the saved one (weights, Adam moments and step count)',
    );
    return `saved to ${location}; restored ${context.stateTolerance === 0 ? 'exactly' : `to ${context.stateTolerance}`}, and the same steps give the same weights`;
  });
}

async function checkSamplerSeed(factory: EngineFactory, context: Context): Promise<string> {
  return withEngine(factory, async ({ training }) =>
    withSampler(await training.saveWeightsForSampler('conformance-sampler'), async (sampler) => {
      const rng = generator(context.seed + 5);
      const prompts = ragged([tokens(rng, context, 2), tokens(rng, context, 4)]);
      const request = {
        prompts,
        samplesPerPrompt: 3,
        maxNewTokens: 6,
        temperature: 1,
        seed: 1234,
      };
      const a = await sampler.sample(request);
      const b = await sampler.sample(request);
      const c = await sampler.sample({ ...request, seed: 4321 });
      if (a.batchSize !== 6 || a.tokenIds.length !== 6 * a.seqLen || a.seqLen !== 6)
        throw new CheckFailure(
          `sample: 2 prompts × 3 samples × 6 tokens gave batchSize ${a.batchSize}, seqLen ${a.seqLen}, ${a.tokenIds.length} token ids`,
        );
      if (!sameArray(a.tokenIds, b.tokenIds) || !sameArray(a.responseMask, b.responseMask))
        throw new CheckFailure('two samples with seed 1234 gave different tokens');
      if (!sameArray(a.logProbs, b.logProbs))
        throw new CheckFailure('two samples with seed 1234 gave different log-probs');
      if (sameArray(a.tokenIds, c.tokenIds))
        throw new CheckFailure('seeds 1234 and 4321 gave exactly the same 36 tokens');
      return 'the same seed gives the same tokens and log-probs, another seed other tokens';
    }),
  );
}

async function checkSamplerFrozen(factory: EngineFactory, context: Context): Promise<string> {
  return withEngine(factory, async ({ training }) =>
    withSampler(await training.saveWeightsForSampler('conformance-frozen'), async (sampler) => {
      const rng = generator(context.seed + 6);
      const request = scoreRequest(rng, context);
      const before = await sampler.computeLogProbs(request);
      await training.forwardBackward(
        [datum(rng, context, 6, { weights: true }), datum(rng, context, 5, { weights: true })],
        { name: 'cross-entropy' },
      );
      await training.optimStep(adam({ learningRate: 0.05 }));
      const after = await sampler.computeLogProbs(request);
      compareClose(
        after,
        before,
        0,
        'sampler log-probs after a training step vs before (a sampler is frozen)',
      );
      return 'a training step leaves the sampler unchanged';
    }),
  );
}

async function checkForwardMatchesSampler(
  factory: EngineFactory,
  context: Context,
): Promise<string> {
  return withEngine(factory, async ({ training }) => {
    const rng = generator(context.seed + 7);
    // Two prompt + response sequences of different lengths; the responses right-padded to T.
    const shapes = [
      { prompt: 3, response: 4 },
      { prompt: 1, response: 6 },
    ];
    const sequences = shapes.map(({ prompt, response }) => ({
      prompt: tokens(rng, context, prompt),
      response: tokens(rng, context, response),
    }));
    const T = Math.max(...shapes.map((s) => s.response));
    const tokenIds = new Int32Array(sequences.length * T);
    const responseMask = new Uint8Array(sequences.length * T);
    sequences.forEach(({ response }, r) => {
      tokenIds.set(response, r * T);
      responseMask.fill(1, r * T, r * T + response.length);
    });
    const request: ScoreRequestV1 = {
      prompts: ragged(sequences.map((s) => s.prompt)),
      batchSize: sequences.length,
      seqLen: T,
      tokenIds,
      responseMask,
    };
    const data = sequences.map(({ prompt, response }) => {
      const x = Int32Array.from([...prompt, ...response]);
      return { inputTokens: x.slice(0, -1), targetTokens: x.slice(1) };
    });
    const forward = await training.forward(data);
    return withSampler(
      await training.saveWeightsForSampler('conformance-score'),
      async (sampler) => {
        const scored = await sampler.computeLogProbs(request);
        if (scored.length !== sequences.length * T)
          throw new CheckFailure(
            `computeLogProbs returned ${scored.length} values for batchSize·seqLen = ${sequences.length * T}`,
          );
        sequences.forEach(({ prompt, response }, r) => {
          // Position prompt.length - 1 + t of the datum predicts response token t.
          const fromForward = forward.outputs[r]!.logProbs.subarray(
            prompt.length - 1,
            prompt.length - 1 + response.length,
          );
          const fromSampler = scored.subarray(r * T, r * T + response.length);
          compareClose(
            fromForward,
            fromSampler,
            context.tolerance,
            `sequence ${r}: forward log-probs of the response vs the sampler's computeLogProbs`,
          );
        });
        return 'forward and computeLogProbs agree on 2 prompt + response sequences';
      },
    );
  });
}

async function checkRejectsBadInput(factory: EngineFactory, context: Context): Promise<string> {
  return withEngine(factory, async ({ training }) => {
    const rng = generator(context.seed + 8);
    const good = () => datum(rng, context, 5, { weights: true });
    const rl = () => datum(rng, context, 5, { logProbs: true, advantages: true });
    const ce: LossSpecV1 = { name: 'cross-entropy' };
    const is: LossSpecV1 = { name: 'importance-sampling' };
    const short = good();
    const outside = good();
    const nan = rl();
    const noAdvantages = rl();
    const cases: [string, () => Promise<unknown>][] = [
      [
        'targetTokens shorter than inputTokens',
        () =>
          training.forwardBackward(
            [good(), { ...short, targetTokens: short.targetTokens.slice(1) }],
            ce,
          ),
      ],
      [
        `an input id equal to the vocabulary size ${context.vocabSize}`,
        () => {
          const inputTokens = outside.inputTokens.slice();
          inputTokens[2] = context.vocabSize;
          return training.forwardBackward([{ ...outside, inputTokens }], ce);
        },
      ],
      [
        'a NaN advantage',
        () => {
          const advantages = nan.advantages!.slice();
          advantages[1] = Number.NaN;
          return training.forwardBackward([rl(), { ...nan, advantages }], is);
        },
      ],
      [
        'importance-sampling without advantages',
        () => {
          const { advantages: _, ...rest } = noAdvantages;
          return training.forwardBackward([rest], is);
        },
      ],
      [
        'an empty datum',
        () =>
          training.forwardBackward(
            [{ inputTokens: new Int32Array(0), targetTokens: new Int32Array(0) }],
            ce,
          ),
      ],
      [
        'an unknown loss name',
        () => training.forwardBackward([good()], { name: 'no-such-loss' as LossNameV1 }),
      ],
    ];
    for (const [what, call] of cases) await expectRejection(call, `forwardBackward with ${what}`);
    await expectRejection(
      () => training.optimStep(adam()),
      'optimStep after only rejected forwardBackward calls (they must accumulate nothing)',
    );
    await training.forwardBackward([good()], ce);
    for (const learningRate of [-1e-3, 0, Number.NaN]) {
      await expectRejection(
        () => training.optimStep({ learningRate }),
        `optimStep with learningRate ${learningRate}`,
      );
    }
    return `${cases.length} bad forwardBackward calls and 3 bad learning rates reject with HicraErrors`;
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers.

async function withEngine<T>(
  factory: EngineFactory,
  body: (engine: EngineUnderTest) => Promise<T>,
): Promise<T> {
  const engine = await factory();
  try {
    return await body(engine);
  } finally {
    await engine.dispose();
  }
}

async function withSampler<T>(
  sampler: SamplingClientV1,
  body: (sampler: SamplingClientV1) => Promise<T>,
): Promise<T> {
  try {
    return await body(sampler);
  } finally {
    await (sampler as { dispose?: () => unknown }).dispose?.();
  }
}

function adam(overrides: Partial<AdamParamsV1> = {}): AdamParamsV1 {
  return { learningRate: 0.01, ...overrides };
}

async function probeLogProbs(
  training: TrainingClientV1,
  probe: readonly DatumV1[],
): Promise<Float32Array> {
  const { outputs } = await training.forward(probe);
  const all = new Float32Array(outputs.reduce((n, o) => n + o.logProbs.length, 0));
  let offset = 0;
  for (const output of outputs) {
    all.set(output.logProbs, offset);
    offset += output.logProbs.length;
  }
  return all;
}

function checkOutputs(
  outputs: readonly { logProbs: Float32Array; entropies?: Float32Array }[],
  data: readonly DatumV1[],
  entropies: boolean,
  call: string,
): void {
  if (!Array.isArray(outputs) || outputs.length !== data.length)
    throw new CheckFailure(
      `${call}: ${Array.isArray(outputs) ? outputs.length : 'no'} outputs for ${data.length} datums`,
    );
  outputs.forEach((output, i) => {
    const n = data[i]!.inputTokens.length;
    if (!(output.logProbs instanceof Float32Array) || output.logProbs.length !== n)
      throw new CheckFailure(`${call}: output ${i} logProbs must be a Float32Array of ${n}`);
    for (let k = 0; k < n; k++) {
      const value = output.logProbs[k]!;
      if (!(Number.isFinite(value) && value <= 0))
        throw new CheckFailure(`${call}: output ${i} logProbs[${k}] = ${value}, expected <= 0`);
    }
    if (!entropies) return;
    if (!(output.entropies instanceof Float32Array) || output.entropies.length !== n)
      throw new CheckFailure(
        `${call}: output ${i} entropies must be a Float32Array of ${n} (capabilities.entropies is true)`,
      );
    for (let k = 0; k < n; k++) {
      const value = output.entropies[k]!;
      if (!(Number.isFinite(value) && value >= -1e-6))
        throw new CheckFailure(`${call}: output ${i} entropies[${k}] = ${value}, expected >= 0`);
    }
  });
}

async function expectRejection(call: () => Promise<unknown>, what: string): Promise<void> {
  let result: unknown;
  try {
    result = await call();
  } catch (error) {
    if (HicraError.isInstance(error)) return;
    throw new CheckFailure(
      `${what}: rejected, but with ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} rather than a HicraError`,
    );
  }
  throw new CheckFailure(
    `${what}: resolved (${JSON.stringify(result, (_, v) => (ArrayBuffer.isView(v) ? `[${v.constructor.name}]` : v))?.slice(0, 200)}), expected a rejection`,
  );
}

function compareClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
): void {
  if (actual.length !== expected.length)
    throw new CheckFailure(`${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstDiff = 0;
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= tolerance) && !(diff <= worstDiff)) {
      worst = i;
      worstDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
    }
  }
  if (worst >= 0)
    throw new CheckFailure(
      `${what}: differ by ${worstDiff} at index ${worst} (${actual[worst]} vs ${expected[worst]}), tolerance ${tolerance}`,
    );
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** mulberry32: a small seeded generator of floats in [0, 1). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tokens(rng: () => number, context: Context, count: number): Int32Array {
  return Int32Array.from({ length: count }, () => Math.floor(rng() * context.vocabSize));
}

/** A datum of `length` positions: a random sequence, shifted. */
function datum(
  rng: () => number,
  context: Context,
  length: number,
  fields: { weights?: boolean; logProbs?: boolean; advantages?: boolean } = {},
): DatumV1 {
  const x = tokens(rng, context, length + 1);
  return {
    inputTokens: x.slice(0, -1),
    targetTokens: x.slice(1),
    ...(fields.weights
      ? { weights: Float32Array.from({ length }, () => 0.25 + 0.75 * rng()) }
      : {}),
    ...(fields.logProbs ? { logProbs: Float32Array.from({ length }, () => -0.5 - 3 * rng()) } : {}),
    ...(fields.advantages
      ? { advantages: Float32Array.from({ length }, () => 2 * rng() - 1) }
      : {}),
  };
}

function ragged(sequences: readonly Int32Array[]): { tokenIds: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(sequences.length + 1);
  sequences.forEach((s, i) => {
    offsets[i + 1] = offsets[i]! + s.length;
  });
  const tokenIds = new Int32Array(offsets[sequences.length]!);
  sequences.forEach((s, i) => {
    tokenIds.set(s, offsets[i]!);
  });
  return { tokenIds, offsets };
}

function scoreRequest(rng: () => number, context: Context): ScoreRequestV1 {
  const T = 5;
  const tokenIds = tokens(rng, context, 2 * T);
  const responseMask = new Uint8Array(2 * T).fill(1);
  responseMask.fill(0, T + 3);
  return {
    prompts: ragged([tokens(rng, context, 2), tokens(rng, context, 3)]),
    batchSize: 2,
    seqLen: T,
    tokenIds,
    responseMask,
  };
}

function messageOf(error: unknown): string {
  if (error instanceof CheckFailure) return error.message;
  if (HicraError.isInstance(error)) return `${error.name} (${error.code}): ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
