/**
 * The workload of `bench:policy`, `bench:memory` and `bench:profile`: the policy benchmark's
 * transformer at B = 32, T = 64 (width 128, 2 layers, 4 heads), one training step (forward,
 * loss, backward, Adam) and KV-cache sampling of 32 sequences × 64 new tokens. One place, so
 * that the three measure the same work as the PyTorch peer (`peers/policy_step.py`).
 */
import { TransformerPolicy } from '@hicra/policy';
import { BackendUnavailableError } from '@hicra/spec';
import {
  BACKEND_NAMES,
  type ConcreteBackendName,
  initBackend,
  SeededGenerator,
  tf,
} from '@hicra/tensor';
import { POLICY_MODEL } from './policy-model.js';

export const STEP_SHAPE = {
  batch: 32,
  seq: 64,
  width: POLICY_MODEL.width,
  layers: POLICY_MODEL.layers,
  heads: POLICY_MODEL.heads,
} as const;
export const SAMPLING = { sequences: 32, newTokens: 64 } as const;
export const LEARNING_RATE = 1e-3;

/** Where a training step is when `onPhase` is called. */
export type StepPhase = 'forward-done' | 'backward-done';

export interface PolicyWorkload {
  readonly vocab: number;
  /**
   * One training step: the forward pass and the loss (mean negative log-prob of the 32 × 63
   * response tokens), the gradients of every trainable variable, and Adam's update, then the
   * loss read back (`dataSync`), as `optimizer.minimize` does it. `onPhase` is called after the
   * loss and after the gradients (the profile splits the kernels there).
   */
  step(onPhase?: (phase: StepPhase) => void): number;
  /** KV-cache sampling of 32 sequences × 64 new tokens (temperature 1, seed 3). */
  sample(): Promise<void>;
  dispose(): void;
}

/** Builds the policy, a seeded batch and an Adam optimizer on the current backend. */
export function createPolicyWorkload(vocab: number): PolicyWorkload {
  const policy = TransformerPolicy.create({ ...POLICY_MODEL, vocabSize: vocab }, { seed: 0 });
  const g = new SeededGenerator(1);
  const { batch, seq } = STEP_SHAPE;
  const tokenIds = Int32Array.from({ length: batch * seq }, () => g.nextInt(vocab));
  const prompts = {
    tokenIds: Int32Array.from({ length: batch }, () => g.nextInt(vocab)),
    offsets: Int32Array.from({ length: batch + 1 }, (_, i) => i),
  };
  const request = {
    prompts,
    batchSize: batch,
    seqLen: seq - 1,
    tokenIds: tokenIds.subarray(0, batch * (seq - 1)),
    responseMask: new Uint8Array(batch * (seq - 1)).fill(1),
  };
  const optimizer = tf.train.adam(LEARNING_RATE);
  const variables = policy.trainableVariables();
  return {
    vocab,
    step(onPhase) {
      // optimizer.minimize(f, true, variables), written out so that the phases can be marked.
      const { value, grads } = optimizer.computeGradients(() => {
        const loss = tf.neg(tf.mean(policy.tokenStatistics(request).logProbs)) as tf.Scalar;
        onPhase?.('forward-done');
        return loss;
      }, variables);
      onPhase?.('backward-done');
      optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose(grads);
      const loss = value.dataSync()[0]!;
      value.dispose();
      return loss;
    },
    async sample() {
      await policy.sample({
        prompts,
        samplesPerPrompt: 1,
        maxNewTokens: SAMPLING.newTokens,
        temperature: 1,
        seed: 3,
      });
    },
    dispose() {
      optimizer.dispose();
      policy.dispose();
    },
  };
}

/** The backends `bench:policy` knows; `native` is measured only when @hicra/tensor has one. */
export const POLICY_BACKENDS = ['wasm', 'cpu', 'native'] as const;
export type PolicyBackend = (typeof POLICY_BACKENDS)[number];

/**
 * Whether `backend` can run here: `undefined` when it can, else why not. A backend that
 * @hicra/tensor does not list (today: `native`, until the native CPU path lands) or that fails
 * to initialise with a `BackendUnavailableError` is reported, not thrown; anything else throws.
 */
export async function backendProblem(backend: PolicyBackend): Promise<string | undefined> {
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    return `@hicra/tensor has no "${backend}" backend (it lists ${BACKEND_NAMES.join(', ')})`;
  }
  try {
    await initBackend(backend as ConcreteBackendName);
    return undefined;
  } catch (error) {
    if (error instanceof BackendUnavailableError) return error.message.split('\n')[0];
    throw error;
  }
}

/** The backends of `requested` that can run here, and why each other one is skipped. */
export async function availableBackends(requested: readonly PolicyBackend[]): Promise<{
  run: PolicyBackend[];
  skipped: { backend: PolicyBackend; reason: string }[];
}> {
  const run: PolicyBackend[] = [];
  const skipped: { backend: PolicyBackend; reason: string }[] = [];
  for (const backend of requested) {
    const problem = await backendProblem(backend);
    if (problem === undefined) run.push(backend);
    else skipped.push({ backend, reason: problem });
  }
  return { run, skipped };
}

/** Selects `backend` (which must be available: see {@link availableBackends}). */
export async function useBackend(backend: PolicyBackend, threads = 1): Promise<void> {
  await initBackend(backend as ConcreteBackendName, backend === 'native' ? { threads } : {});
}
