/**
 * The server side of Tinker futures: long work gets an id at once, runs, and keeps its
 * outcome until `retrieve_future` fetches it (kept a grace period after, in case the answer
 * is lost and the client asks again), or until it expires.
 */
import { randomBytes } from 'node:crypto';

/** The outcome of a future, as `retrieve_future` sees it. */
export type FutureState =
  | { readonly state: 'pending' }
  | { readonly state: 'done'; readonly value: unknown }
  | { readonly state: 'failed'; readonly error: unknown }
  | { readonly state: 'unknown' };

export interface FutureStoreOptions {
  /** How long one `retrieve_future` waits for a pending future. Default 10 000 ms. */
  readonly longPollMs?: number;
  /** How long a completed outcome is kept when nobody fetches it. Default 10 minutes. */
  readonly retentionMs?: number;
  /** How long a fetched outcome stays fetchable again. Default 60 000 ms. */
  readonly retrievedGraceMs?: number;
  /** Most futures kept; the oldest completed ones go first. Default 10 000. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly id: string;
  readonly modelId: string | null;
  outcome: FutureState;
  readonly settled: Promise<void>;
  expiresAt: number;
}

export class FutureStore {
  readonly #entries = new Map<string, Entry>();
  readonly #longPollMs: number;
  readonly #retentionMs: number;
  readonly #graceMs: number;
  readonly #maxEntries: number;
  readonly #wake = new Set<() => void>();
  #closed = false;

  constructor(options: FutureStoreOptions = {}) {
    this.#longPollMs = options.longPollMs ?? 10_000;
    this.#retentionMs = options.retentionMs ?? 600_000;
    this.#graceMs = options.retrievedGraceMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** Starts `work` and returns the future's id. */
  submit(modelId: string | null, work: () => Promise<unknown>): string {
    this.#sweep();
    const id = randomBytes(16).toString('hex');
    const entry: Entry = {
      id,
      modelId,
      outcome: { state: 'pending' },
      expiresAt: Number.POSITIVE_INFINITY,
      settled: Promise.resolve()
        .then(work)
        .then(
          (value) => {
            entry.outcome = { state: 'done', value };
          },
          (error: unknown) => {
            entry.outcome = { state: 'failed', error };
          },
        )
        .finally(() => {
          entry.expiresAt = Date.now() + this.#retentionMs;
        }),
    };
    this.#entries.set(id, entry);
    return id;
  }

  /** A future's outcome, waiting up to the long-poll time while it is pending. */
  async retrieve(id: string): Promise<FutureState & { readonly modelId?: string | null }> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.expiresAt < Date.now()) return { state: 'unknown' };
    if (entry.outcome.state === 'pending' && !this.#closed) {
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      this.#wake.add(wake);
      const timer = setTimeout(wake, this.#longPollMs);
      try {
        await Promise.race([entry.settled, woken]);
      } finally {
        clearTimeout(timer);
        this.#wake.delete(wake);
      }
    }
    if (entry.outcome.state !== 'pending') {
      entry.expiresAt = Math.min(entry.expiresAt, Date.now() + this.#graceMs);
    }
    return { ...entry.outcome, modelId: entry.modelId };
  }

  /** Pending futures. */
  get pending(): number {
    let n = 0;
    for (const entry of this.#entries.values()) if (entry.outcome.state === 'pending') n++;
    return n;
  }

  /** Ends every long poll now (they answer "try again"); later polls answer at once. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#wake]) wake();
  }

  /** Waits for every started piece of work to settle. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#entries.values()].map((e) => e.settled));
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt < now) this.#entries.delete(id);
    }
    if (this.#entries.size < this.#maxEntries) return;
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size < this.#maxEntries) break;
      if (entry.outcome.state !== 'pending') this.#entries.delete(id);
    }
  }
}
