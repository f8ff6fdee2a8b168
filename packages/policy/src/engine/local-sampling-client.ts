import {
  InvalidArgumentError,
  type PolicyV1,
  type SampleRequestV1,
  type SampleResultV1,
  type SamplingClientV1,
  type ScoreRequestV1,
} from '@hicra/spec';

const SOURCE = '@hicra/policy';

export interface LocalSamplingClientOptions {
  /** A label (the name given to `saveWeightsForSampler`). */
  readonly name?: string;
  /** Called once by `dispose()`: releases what the client owns (a frozen policy copy). */
  readonly onDispose?: () => void;
}

/**
 * `SamplingClientV1` over an in-process `PolicyV1`: `sample` is `policy.sample`, and
 * `computeLogProbs` is `policy.score(...).logProbs`. Log-probs are after temperature, before
 * top-k/top-p, as `PolicyV1` promises.
 *
 * A client returned by `LocalTrainingClient.saveWeightsForSampler` owns a frozen copy of the
 * weights: call `dispose()` when done with it, or its tensors stay allocated. A client built
 * over a policy you own releases nothing unless you pass `onDispose`.
 */
export class LocalSamplingClient implements SamplingClientV1 {
  readonly policy: PolicyV1;
  readonly name: string | undefined;
  readonly #onDispose: (() => void) | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  #disposed = false;
  #released: Promise<void> = Promise.resolve();

  constructor(policy: PolicyV1, options: LocalSamplingClientOptions = {}) {
    this.policy = policy;
    this.name = options.name;
    this.#onDispose = options.onDispose;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  sample(request: SampleRequestV1): Promise<SampleResultV1> {
    return this.#track('sample', () => this.policy.sample(request));
  }

  computeLogProbs(request: ScoreRequestV1): Promise<Float32Array> {
    return this.#track('computeLogProbs', async () => (await this.policy.score(request)).logProbs);
  }

  /**
   * Releases what the client owns once the calls already made have finished; calls made after
   * it reject. Calling it again does nothing more.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return this.#released;
    this.#disposed = true;
    this.#released = Promise.allSettled([...this.#inFlight]).then(() => this.#onDispose?.());
    return this.#released;
  }

  #track<T>(call: string, body: () => Promise<T>): Promise<T> {
    try {
      this.#checkOpen(call);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = body();
    this.#inFlight.add(run);
    const forget = () => this.#inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  #checkOpen(call: string): void {
    if (this.#disposed) {
      throw new InvalidArgumentError(
        `LocalSamplingClient${this.name === undefined ? '' : ` "${this.name}"`}.${call}: the client was disposed`,
        { source: SOURCE, details: { call } },
      );
    }
  }
}
