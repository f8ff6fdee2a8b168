import {
  formatValue,
  InvalidValueError,
  type RewardFunctionV1,
  type RolloutBatchV1,
  type RolloutSourceV1,
  type TokenizerV1,
  validateRolloutBatch,
} from '@hicra/spec';
import type { Problem } from '../problem.js';

const SOURCE = '@hicra/trainer';

/** A verified response. */
export interface ScoredResponse {
  /** `undefined`: unscorable (no usable answer, a reward error), left out of the batch. */
  readonly reward: number | undefined;
  readonly correct: boolean;
  readonly reason?: string;
  /** Scored (as incorrect) although it had no usable answer (`ScoredRewardV1.missingAnswer`). */
  readonly missingAnswer?: boolean;
}

/** What to do when the reward throws or returns a non-finite value: exclude the response, or stop. */
export type RewardErrorPolicy = 'exclude' | 'stop';

/** Scores one response; a throwing or non-finite reward excludes it, or throws with `'stop'`. */
export async function scoreResponse(
  reward: RewardFunctionV1,
  problem: Problem,
  response: string,
  length: number,
  maxResponseLength: number,
  onRewardError: RewardErrorPolicy,
): Promise<ScoredResponse> {
  try {
    const result = await reward.score({
      prompt: problem.prompt,
      response,
      reference: problem.reference,
      responseLength: length,
      maxResponseLength,
    });
    if (result.kind === 'unscorable')
      return { reward: undefined, correct: false, reason: result.reason };
    const missingAnswer = result.missingAnswer !== undefined;
    if (!Number.isFinite(result.reward)) {
      if (onRewardError === 'stop') {
        throw new InvalidValueError(
          `reward ${reward.name} returned ${formatValue(result.reward)} for a response to problem ${formatValue(problem.id)}; rewards must be finite (onRewardError: 'stop')`,
          { source: SOURCE, details: { reward: reward.name, value: formatValue(result.reward) } },
        );
      }
      return { reward: undefined, correct: false, reason: `reward ${result.reward}` };
    }
    return {
      reward: result.reward,
      correct: result.correct ?? result.reward > 0,
      ...(missingAnswer ? { reason: result.missingAnswer, missingAnswer } : {}),
    };
  } catch (error) {
    if (onRewardError === 'stop') throw error;
    return {
      reward: undefined,
      correct: false,
      reason: `reward function threw: ${(error as Error).message}`,
    };
  }
}

export interface SampleAndScoreSettings {
  readonly source: RolloutSourceV1;
  readonly tokenizer: TokenizerV1;
  readonly reward: RewardFunctionV1;
  readonly samplesPerPrompt: number;
  /** 0: greedy. */
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly topK: number;
  readonly topP: number;
  readonly stopTokenIds: readonly number[];
  readonly seed: number;
  readonly addSpecialTokens: boolean;
  readonly onRewardError: RewardErrorPolicy;
}

/** G responses per problem, with their lengths, whether each finished, and their scores. */
export interface SampledResponses {
  /** The source's batch (texts and spans required). */
  readonly batch: RolloutBatchV1 & { responseTexts: readonly string[]; tokenSpans: Int32Array };
  /** Problem index of each row. */
  readonly promptIndex: Int32Array;
  /** Prompt token ids of each problem. */
  readonly promptIds: readonly Int32Array[];
  readonly lengths: Int32Array;
  /** 1: stopped before the limit or on a stop token; 0: cut at `maxNewTokens`. */
  readonly finished: Uint8Array;
  readonly scored: readonly ScoredResponse[];
  /** Milliseconds spent in the reward. */
  readonly rewardMs: number;
}

/** Samples G responses per problem from the rollout source and verifies them. */
export async function sampleAndScore(
  problems: readonly Problem[],
  settings: SampleAndScoreSettings,
): Promise<SampledResponses> {
  const { tokenizer } = settings;
  const batch = await settings.source.generate({
    prompts: problems.map((problem, p) => ({ groupId: p, text: problem.prompt })),
    samplesPerPrompt: settings.samplesPerPrompt,
    maxNewTokens: settings.maxNewTokens,
    temperature: settings.temperature,
    topK: settings.topK,
    topP: settings.topP,
    stopTokenIds: settings.stopTokenIds,
    seed: settings.seed,
  });
  validateRolloutBatch(batch, { source: SOURCE, require: ['responseTexts', 'tokenSpans'] });
  const T = batch.seqLen;
  const stops = new Set(settings.stopTokenIds);
  const groupIds = Array.from(batch.prompts.groupIds);
  const promptIds = problems.map((problem, p) => {
    const at = groupIds.indexOf(p);
    const { tokenIds, tokenOffsets } = batch.prompts;
    if (at < 0 || tokenIds === undefined || tokenOffsets === undefined) {
      return tokenizer.encode(problem.prompt, { addSpecialTokens: settings.addSpecialTokens }).ids;
    }
    return tokenIds.slice(tokenOffsets[at]!, tokenOffsets[at + 1]!);
  });
  const promptIndex = new Int32Array(batch.batchSize);
  const finished = new Uint8Array(batch.batchSize);
  const lengths = new Int32Array(batch.batchSize);
  const scored: ScoredResponse[] = [];
  const rewardStarted = performance.now();
  for (let r = 0; r < batch.batchSize; r++) {
    promptIndex[r] = batch.groupIds[r]!;
    let length = 0;
    for (let t = 0; t < T; t++) length += batch.responseMask[r * T + t]!;
    lengths[r] = length;
    // A response that stopped before the limit, or whose last token is a stop token, finished.
    finished[r] =
      length < T || (length > 0 && stops.has(batch.tokenIds[r * T + length - 1]!)) ? 1 : 0;
    scored.push(
      await scoreResponse(
        settings.reward,
        problems[promptIndex[r]!]!,
        batch.responseTexts![r]!,
        length,
        settings.maxNewTokens,
        settings.onRewardError,
      ),
    );
  }
  return {
    batch: batch as SampledResponses['batch'],
    promptIndex,
    promptIds,
    lengths,
    finished,
    scored,
    rewardMs: performance.now() - rewardStarted,
  };
}
