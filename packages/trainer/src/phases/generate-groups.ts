import type { Problem } from '../problem.js';
import type { GroupRow, KeptGroup } from './build-batch.js';
import { type SampleAndScoreSettings, sampleAndScore } from './sample-and-score.js';

/** Counts over every sampled response of a step (kept or not). */
export interface SamplingCounts {
  sampled: number;
  correct: number;
  /** Without a usable answer: dropped (unscorable) or scored as incorrect. */
  unscorable: number;
  /** Cut at `maxNewTokens`. */
  clipped: number;
  maxLength: number;
  totalLength: number;
}

export interface GeneratedGroups {
  readonly kept: KeptGroup[];
  readonly counts: SamplingCounts;
  readonly generateMs: number;
  readonly rewardMs: number;
}

export interface GenerateGroupsSettings {
  readonly promptsPerStep: number;
  /** DAPO dynamic sampling: keep groups whose rewards differ and refill, up to `maxRefills` rounds. */
  readonly dynamicSampling: { readonly enabled: boolean; readonly maxRefills: number };
  /** The next `count` training problems (the run's seeded data order). */
  readonly nextProblems: (count: number) => Problem[];
  /** The sampling seed of refill round `round`. */
  readonly seed: (round: number) => number;
  readonly sampling: Omit<SampleAndScoreSettings, 'seed'>;
}

/**
 * The step's rollouts: G responses for each of `promptsPerStep` prompts, verified; with dynamic
 * sampling, groups whose rewards are all equal are dropped and refilled from new prompts.
 */
export async function generateGroups(settings: GenerateGroupsSettings): Promise<GeneratedGroups> {
  const kept: KeptGroup[] = [];
  const counts: SamplingCounts = {
    sampled: 0,
    correct: 0,
    unscorable: 0,
    clipped: 0,
    maxLength: 0,
    totalLength: 0,
  };
  let generateMs = 0;
  let rewardMs = 0;
  const { dynamicSampling } = settings;
  const rounds = dynamicSampling.enabled ? 1 + dynamicSampling.maxRefills : 1;
  for (let round = 0; round < rounds && kept.length < settings.promptsPerStep; round++) {
    const problems = settings.nextProblems(settings.promptsPerStep - kept.length);
    const started = performance.now();
    const sampled = await sampleAndScore(problems, {
      ...settings.sampling,
      seed: settings.seed(round),
    });
    generateMs += performance.now() - started - sampled.rewardMs;
    rewardMs += sampled.rewardMs;
    const { batch, promptIndex, promptIds, lengths, finished, scored } = sampled;
    const T = batch.seqLen;
    for (let p = 0; p < problems.length; p++) {
      const rows: GroupRow[] = [];
      for (let r = 0; r < batch.batchSize; r++) {
        if (promptIndex[r] !== p) continue;
        const length = lengths[r]!;
        counts.sampled++;
        counts.totalLength += length;
        counts.maxLength = Math.max(counts.maxLength, length);
        if (finished[r] === 0) counts.clipped++;
        if (scored[r]!.reward === undefined || scored[r]!.missingAnswer) counts.unscorable++;
        if (scored[r]!.correct) counts.correct++;
        rows.push({
          ids: batch.tokenIds.slice(r * T, r * T + length),
          text: batch.responseTexts[r]!,
          spans: batch.tokenSpans.slice(r * T * 2, r * T * 2 + length * 2),
          scored: scored[r]!,
          length,
          finished: finished[r] === 1,
        });
      }
      const rewards = rows
        .filter((row) => row.scored.reward !== undefined)
        .map((row) => row.scored.reward!);
      const informative = rewards.length > 0 && rewards.some((x) => x !== rewards[0]);
      if (!dynamicSampling.enabled || informative)
        kept.push({ problem: problems[p]!, promptIds: promptIds[p]!, rows });
    }
  }
  return { kept, counts, generateMs, rewardMs };
}
