/**
 * The conformance kit: every estimator and credit assigner, built-in or third-party, runs the
 * same checks in one call. Framework-free (`checkConformance` returns a report) or as tests of
 * your runner (`describeConformance({ describe, it }, ...)`, vitest or node:test).
 */
import {
  type AdvantageEstimatorV1,
  type CreditAssignerRegistrationV1,
  type CreditAssignerV1,
  type CreditV1,
  createRegistry,
  type EstimatorRegistrationV1,
  type PluginInvariantV1,
  type RolloutBatchV1,
  validateRolloutBatch,
} from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { createGrpoEstimator } from '../estimators/grpo.js';
import { creditFromEstimate } from '../registry.js';

/**
 * The invariants a component can declare (`PluginInvariantV1` of `@hicra/spec`, where each is
 * documented); each declared one is checked on every generated batch.
 */
export type Invariant = PluginInvariantV1;

export interface ConformanceOptions {
  /** Seed of the generated batches. Default 20250903. */
  readonly seed?: number;
  /** Number of random batches. Default 25. */
  readonly batches?: number;
  /**
   * The invariants this component documents. A registration's own `invariants` are always
   * checked; these are checked as well (for a bare estimator or assigner, they are the only ones).
   */
  readonly invariants?: readonly Invariant[];
  /** Absolute tolerance for invariants that compare advantages. Default 1e-4 (float32 after whitening). */
  readonly tolerance?: number;
  /** Assigners: the estimator whose credit they receive. Default GRPO. */
  readonly upstream?: AdvantageEstimatorV1;
}

export interface ConformanceFailure {
  readonly check: string;
  readonly message: string;
}

export interface ConformanceReport {
  readonly component: string;
  /** Names of the checks that ran. */
  readonly checks: readonly string[];
  readonly failures: readonly ConformanceFailure[];
}

type Target =
  | AdvantageEstimatorV1
  | CreditAssignerV1
  | EstimatorRegistrationV1
  | CreditAssignerRegistrationV1;

export interface RandomBatchOptions {
  /** Number of groups. Default 1-6. */
  readonly groups?: number;
  /** Maximum group size. Default 8. */
  readonly maxGroupSize?: number;
  /** Padded length. Default 3-24. */
  readonly seqLen?: number;
  /** Include `tokenRewards` (the outcome reward on the last valid token). */
  readonly tokenRewards?: boolean;
  /** Allow rows with no valid token. Default true. */
  readonly emptyRows?: boolean;
}

/**
 * A random valid batch: groups of 1 to 8 with unsorted, non-contiguous ids, right-padded
 * responses (some possibly empty), rewards in {0, 1} or continuous, and every optional
 * per-token field (planning mask, entropies, values, log-probs) filled.
 */
export function randomRolloutBatch(
  generator: SeededGenerator,
  options: RandomBatchOptions = {},
): RolloutBatchV1 {
  const groupCount = options.groups ?? 1 + generator.nextInt(6);
  const maxGroupSize = options.maxGroupSize ?? 8;
  const seqLen = options.seqLen ?? 3 + generator.nextInt(22);
  const ids = generator.shuffle(Array.from({ length: groupCount }, (_, g) => 3 * g + 7));
  const groupIds: number[] = [];
  for (const id of ids) {
    const size = 1 + generator.nextInt(maxGroupSize);
    for (let j = 0; j < size; j++) groupIds.push(id);
  }
  generator.shuffle(groupIds);
  const batchSize = groupIds.length;
  const tokens = batchSize * seqLen;
  const responseMask = new Uint8Array(tokens);
  const binary = generator.nextFloat() < 0.5;
  const rewards = new Float32Array(batchSize);
  for (let i = 0; i < batchSize; i++) {
    const empty = (options.emptyRows ?? true) && generator.nextFloat() < 0.05;
    const length = empty ? 0 : 1 + generator.nextInt(seqLen);
    responseMask.fill(1, i * seqLen, i * seqLen + length);
    rewards[i] = binary ? generator.nextInt(2) : generator.nextNormal(0.5, 1);
  }
  const perToken = (draw: () => number) => {
    const out = new Float32Array(tokens);
    for (let k = 0; k < tokens; k++) out[k] = responseMask[k] === 1 ? draw() : 0;
    return out;
  };
  const planningMask = new Uint8Array(tokens);
  for (let k = 0; k < tokens; k++)
    planningMask[k] = responseMask[k] === 1 && generator.nextFloat() < 0.2 ? 1 : 0;
  let tokenRewards: Float32Array | undefined;
  if (options.tokenRewards) {
    tokenRewards = new Float32Array(tokens);
    for (let i = 0; i < batchSize; i++) {
      for (let t = seqLen - 1; t >= 0; t--) {
        if (responseMask[i * seqLen + t] === 1) {
          tokenRewards[i * seqLen + t] = rewards[i]!;
          break;
        }
      }
    }
  }
  const batch: RolloutBatchV1 = {
    batchSize,
    seqLen,
    groupIds: Int32Array.from(groupIds),
    prompts: { groupIds: Int32Array.from(ids), texts: ids.map((id) => `prompt ${id}`) },
    tokenIds: Int32Array.from({ length: tokens }, (_, k) =>
      responseMask[k] === 1 ? generator.nextInt(1000) : 0,
    ),
    responseMask,
    rewards,
    oldLogProbs: perToken(() => -Math.abs(generator.nextNormal(1, 1))),
    entropies: perToken(() => Math.abs(generator.nextNormal(1, 0.8))),
    values: perToken(() => generator.nextNormal(0, 1)),
    planningMask,
    ...(tokenRewards ? { tokenRewards } : {}),
  };
  return validateRolloutBatch(batch);
}

function isRegistration(
  target: Target,
): target is EstimatorRegistrationV1 | CreditAssignerRegistrationV1 {
  return 'kind' in target && 'create' in target;
}

/** The invariants a registration declares (none for a bare component). */
function declaredInvariants(target: Target): readonly Invariant[] {
  return isRegistration(target) ? (target.invariants ?? []) : [];
}

function instantiate(
  target: Target,
):
  | { kind: 'estimator'; value: AdvantageEstimatorV1 }
  | { kind: 'assigner'; value: CreditAssignerV1 } {
  if (isRegistration(target)) {
    // Through a registry, as users build it: the registration's shape is checked, its settings
    // schema fills the defaults, and what `create` returns must be the kind's object.
    const registry = createRegistry({ registrations: [target], kinds: [target.kind] });
    return target.kind === 'estimator'
      ? { kind: 'estimator', value: registry.create('estimator', target.name) }
      : { kind: 'assigner', value: registry.create('assigner', target.name) };
  }
  return 'estimate' in target
    ? { kind: 'estimator', value: target }
    : { kind: 'assigner', value: target as CreditAssignerV1 };
}

function snapshot(value: object): string {
  return JSON.stringify(value, (_key, v) =>
    ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v,
  );
}

function cloneBatch(batch: RolloutBatchV1): RolloutBatchV1 {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(batch)) {
    copy[key] = ArrayBuffer.isView(value) ? (value as unknown as Float32Array).slice() : value;
  }
  return copy as unknown as RolloutBatchV1;
}

/** Adds a random constant to the rewards of each group (token rewards too, on the last token). */
function shiftGroups(batch: RolloutBatchV1, generator: SeededGenerator): RolloutBatchV1 {
  const sizes = new Map<number, number>();
  for (const id of batch.groupIds) sizes.set(id, (sizes.get(id) ?? 0) + 1);
  // Groups of one keep their raw score by verl's rule (mean 0), so only larger groups shift.
  const shift = new Map<number, number>();
  for (const id of batch.groupIds) {
    if (!shift.has(id))
      shift.set(id, sizes.get(id)! > 1 ? Math.round(generator.nextNormal(0, 3) * 4) / 4 : 0);
  }
  const rewards = Float32Array.from(batch.rewards, (r, i) => r + shift.get(batch.groupIds[i]!)!);
  let tokenRewards: Float32Array | undefined;
  if (batch.tokenRewards) {
    tokenRewards = batch.tokenRewards.slice();
    for (let i = 0; i < batch.batchSize; i++) {
      for (let t = batch.seqLen - 1; t >= 0; t--) {
        const k = i * batch.seqLen + t;
        if (batch.responseMask[k] === 1) {
          tokenRewards[k] = tokenRewards[k]! + shift.get(batch.groupIds[i]!)!;
          break;
        }
      }
    }
  }
  return { ...batch, rewards, ...(tokenRewards ? { tokenRewards } : {}) };
}

/**
 * Runs every conformance check on random batches and returns a report (no exceptions for
 * failures; an exception thrown by the component is reported as a failure of the check).
 */
export function checkConformance(
  target: Target,
  options: ConformanceOptions = {},
): ConformanceReport {
  const component = instantiate(target);
  const name = component.value.name;
  const generator = new SeededGenerator(options.seed ?? 20250903);
  const tolerance = options.tolerance ?? 1e-4;
  const invariants = new Set([...declaredInvariants(target), ...(options.invariants ?? [])]);
  const upstream = options.upstream ?? createGrpoEstimator();
  const failures: ConformanceFailure[] = [];
  const checks = new Set<string>();
  const fail = (check: string, message: string) => {
    if (!failures.some((f) => f.check === check)) failures.push({ check, message });
  };

  const run = (
    batch: RolloutBatchV1,
    credit?: CreditV1,
  ): { advantages: Float32Array; lossMask?: Uint8Array; returns?: Float32Array } => {
    if (component.kind === 'estimator') {
      const out = component.value.estimate(batch);
      return { advantages: out.advantages, ...(out.returns ? { returns: out.returns } : {}) };
    }
    const out = component.value.assign(batch, credit!);
    return { advantages: out.advantages, lossMask: out.lossMask };
  };

  const batches = options.batches ?? 25;
  for (let b = 0; b < batches; b++) {
    // Every third batch carries token rewards (no empty rows there: an empty row has no token to hold its reward).
    const batch = randomRolloutBatch(
      generator,
      b % 3 === 1 ? { tokenRewards: true, emptyRows: false } : {},
    );
    const credit =
      component.kind === 'assigner'
        ? creditFromEstimate(batch, upstream.estimate(batch))
        : undefined;
    const tokens = batch.batchSize * batch.seqLen;
    const before = snapshot({ batch, credit });
    let result: ReturnType<typeof run>;
    try {
      result = run(batch, credit);
    } catch (error) {
      fail('runs on valid batches', `batch ${b}: threw ${(error as Error).message}`);
      continue;
    }
    checks.add('runs on valid batches');

    checks.add('keeps shapes');
    if (!(result.advantages instanceof Float32Array) || result.advantages.length !== tokens) {
      fail('keeps shapes', `batch ${b}: advantages must be a Float32Array of ${tokens}`);
      continue;
    }
    if (result.returns !== undefined && result.returns.length !== tokens)
      fail('keeps shapes', `batch ${b}: returns length ${result.returns.length}`);
    if (
      component.kind === 'assigner' &&
      (!(result.lossMask instanceof Uint8Array) || result.lossMask.length !== tokens)
    ) {
      fail('keeps shapes', `batch ${b}: lossMask must be a Uint8Array of ${tokens}`);
      continue;
    }

    checks.add('zero outside the mask and finite inside');
    for (let k = 0; k < tokens; k++) {
      const a = result.advantages[k]!;
      if (batch.responseMask[k] === 0 && a !== 0)
        fail(
          'zero outside the mask and finite inside',
          `batch ${b}: advantage ${a} at padded index ${k}`,
        );
      if (!Number.isFinite(a))
        fail('zero outside the mask and finite inside', `batch ${b}: advantage ${a} at index ${k}`);
    }

    checks.add('does not mutate its inputs');
    if (snapshot({ batch, credit }) !== before)
      fail('does not mutate its inputs', `batch ${b}: an input array changed`);

    checks.add('is deterministic');
    const again = run(
      cloneBatch(batch),
      credit && {
        ...credit,
        advantages: credit.advantages.slice(),
        lossMask: credit.lossMask.slice(),
      },
    );
    if (snapshot(again) !== snapshot(result))
      fail('is deterministic', `batch ${b}: two runs on equal inputs differ`);

    if (component.kind === 'assigner') {
      checks.add('loss mask is a subset of the response mask');
      for (let k = 0; k < tokens; k++) {
        if (result.lossMask![k]! > batch.responseMask[k]!) {
          fail(
            'loss mask is a subset of the response mask',
            `batch ${b}: lossMask 1 at padded index ${k}`,
          );
        }
      }
    }

    for (const invariant of invariants) {
      checks.add(`invariant: ${invariant}`);
      const violation = (message: string) =>
        fail(`invariant: ${invariant}`, `batch ${b}: ${message}`);
      const input = credit?.advantages;
      switch (invariant) {
        case 'group-shift-invariant': {
          if (component.kind !== 'estimator') break;
          const shifted = component.value.estimate(shiftGroups(batch, generator)).advantages;
          for (let k = 0; k < tokens; k++) {
            if (
              Math.abs(shifted[k]! - result.advantages[k]!) >
              tolerance * (1 + Math.abs(result.advantages[k]!))
            ) {
              violation(
                `index ${k}: ${result.advantages[k]} became ${shifted[k]} after a group shift`,
              );
              break;
            }
          }
          break;
        }
        case 'never-flips-sign':
          for (let k = 0; k < tokens && input; k++) {
            if (Math.sign(result.advantages[k]!) !== Math.sign(input[k]!))
              violation(`index ${k}: ${input[k]} became ${result.advantages[k]}`);
          }
          break;
        case 'execution-untouched':
          for (let k = 0; k < tokens && input; k++) {
            if (batch.planningMask![k] === 0 && result.advantages[k] !== input[k])
              violation(`execution token ${k}: ${input[k]} became ${result.advantages[k]}`);
          }
          break;
        case 'advantages-unchanged':
          for (let k = 0; k < tokens && input; k++)
            if (result.advantages[k] !== input[k]) violation(`index ${k} changed`);
          break;
        case 'loss-mask-unchanged':
          for (let k = 0; k < tokens && credit; k++)
            if (result.lossMask![k] !== credit.lossMask[k]) violation(`lossMask ${k} changed`);
          break;
      }
    }
  }

  checks.add('accepts an empty batch');
  const empty: RolloutBatchV1 = {
    batchSize: 0,
    seqLen: 0,
    groupIds: new Int32Array(0),
    prompts: { groupIds: new Int32Array(0), texts: [] },
    tokenIds: new Int32Array(0),
    responseMask: new Uint8Array(0),
    rewards: new Float32Array(0),
    entropies: new Float32Array(0),
    values: new Float32Array(0),
    planningMask: new Uint8Array(0),
  };
  try {
    const credit =
      component.kind === 'assigner'
        ? creditFromEstimate(empty, upstream.estimate(empty))
        : undefined;
    const result = run(empty, credit);
    if (result.advantages.length !== 0)
      fail('accepts an empty batch', 'advantages of an empty batch must be empty');
  } catch (error) {
    fail('accepts an empty batch', `threw ${(error as Error).message}`);
  }
  return { component: name, checks: [...checks], failures };
}

/** The subset of a test runner's API the suite needs (vitest and node:test both fit). */
export interface TestApi {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => void): unknown;
}

/**
 * Registers the conformance checks as tests of your runner, one test per check:
 *
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeConformance } from '@hicra/advantage/testing';
 * describeConformance({ describe, it }, myRegistration, { invariants: ['never-flips-sign'] });
 * ```
 */
export function describeConformance(
  api: TestApi,
  target: Target,
  options: ConformanceOptions = {},
): void {
  const label = isRegistration(target) ? target.name : target.name;
  api.describe(`conformance: ${label}`, () => {
    let report: ConformanceReport | undefined;
    const get = () => {
      report ??= checkConformance(target, options);
      return report;
    };
    const names = [
      'runs on valid batches',
      'keeps shapes',
      'zero outside the mask and finite inside',
      'does not mutate its inputs',
      'is deterministic',
      ...('estimate' in target || (isRegistration(target) && target.kind === 'estimator')
        ? []
        : ['loss mask is a subset of the response mask']),
      ...[...new Set([...declaredInvariants(target), ...(options.invariants ?? [])])].map(
        (i) => `invariant: ${i}`,
      ),
      'accepts an empty batch',
    ];
    for (const check of names) {
      api.it(check, () => {
        const { failures, checks } = get();
        const failure = failures.find((f) => f.check === check);
        if (failure) throw new Error(`${label}: ${check}: ${failure.message}`);
        if (!checks.includes(check) && !failures.some((f) => f.check === 'runs on valid batches')) {
          throw new Error(`${label}: ${check} did not run`);
        }
      });
    }
  });
}

/** The seeded generator the kit's random batches use (re-exported for convenience). */
export { SeededGenerator } from '@hicra/tensor/kernels';
