import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { defaultRegistry } from '@hicra/advantage';
import { strategicGrams } from '@hicra/planning';
import { HuggingFaceTokenizer, loadCheckpointTokenizer, writeFileAtomic } from '@hicra/policy';
import { stepMetrics } from '@hicra/semantic-entropy';
import {
  ConfigError,
  CorruptFileError,
  parseRolloutRecord,
  type RolloutRecordV1,
  rolloutBatchFromRecords,
  rolloutRecordsFromBatch,
  type TokenizerV1,
} from '@hicra/spec';

export interface AnnotateOptions {
  /** Rollouts in the rollout JSON Lines schema of `@hicra/spec`. */
  readonly input: string;
  /** Where the annotated rollouts go (JSON Lines). */
  readonly out: string;
  /** A credit-pipeline config; default GRPO + HICRA (alpha 0.2). */
  readonly credit?: unknown;
  /** A `tokenizer.json` (or its folder), for records without token ids and spans. */
  readonly tokenizer?: string;
  /**
   * A model folder whose tokenizer is used instead: a hicra checkpoint or a Hugging Face model
   * folder (only its tokenizer is read, not its weights).
   */
  readonly from?: string;
}

export interface AnnotateResult {
  readonly out: string;
  readonly responses: number;
  readonly unscorable: number;
  /** Strategy and token-class metrics of the whole file (`strategy/semantic_entropy`, ...). */
  readonly metrics: Record<string, number>;
  /** Planning-phrase counts, most frequent first. */
  readonly phraseCounts: readonly { readonly gram: string; readonly count: number }[];
}

/** Reads rollout records, reporting a malformed line with its file and line number. */
export async function readRolloutRecords(
  path: string,
): Promise<{ records: RolloutRecordV1[]; lines: number[] }> {
  const records: RolloutRecordV1[] = [];
  const lines: number[] = [];
  let lineNumber = 0;
  const stream = createReadStream(path, 'utf8');
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', (error) =>
      reject(
        new CorruptFileError(`${path}: cannot read (${error.message})`, {
          source: '@hicra/reference',
          details: { path },
        }),
      ),
    );
    stream.on('open', () => resolve());
  });
  await done;
  for await (const line of createInterface({
    input: stream,
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    lineNumber++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CorruptFileError(
        `${path} line ${lineNumber}: not valid JSON (${(error as Error).message})`,
        {
          source: '@hicra/reference',
          details: { path, line: lineNumber },
        },
      );
    }
    records.push(parseRolloutRecord(value, `${path} line ${lineNumber}`));
    lines.push(lineNumber);
  }
  if (records.length === 0) {
    throw new ConfigError('', `${path}: no rollout records`, {
      source: '@hicra/reference',
      details: { path },
    });
  }
  return { records, lines };
}

/**
 * Applies the strategy to rollouts produced elsewhere: planning matches and mask from the
 * paper's Strategic-Gram classifier, credit from a pipeline (GRPO + HICRA by default), and the
 * strategy metrics of the file. Records without token ids are tokenised with the given
 * `tokenizer.json`. Unscorable records (null reward) are passed through, unannotated.
 */
export async function annotateRollouts(options: AnnotateOptions): Promise<AnnotateResult> {
  const { records, lines } = await readRolloutRecords(options.input);
  let tokenizer: TokenizerV1 | undefined;
  let hf: HuggingFaceTokenizer | undefined;
  if (options.tokenizer !== undefined && options.from !== undefined)
    throw new ConfigError('tokenizer', 'give a tokenizer or a model folder (from), not both', {
      source: '@hicra/reference',
    });
  if (options.tokenizer) {
    hf = await HuggingFaceTokenizer.load(options.tokenizer);
    tokenizer = hf;
  } else if (options.from) {
    const loaded = await loadCheckpointTokenizer(options.from);
    if (loaded === undefined)
      throw new ConfigError('from', `${options.from}: the model folder has no tokenizer.json`, {
        source: '@hicra/reference',
      });
    if (loaded instanceof HuggingFaceTokenizer) hf = loaded;
    tokenizer = loaded;
  }
  try {
    const { batch, groupKeys, dropped, recordIndex } = rolloutBatchFromRecords(records, {
      unscorable: 'drop',
      describe: (i) => `${options.input} line ${lines[i]}`,
      ...(tokenizer ? { tokenizer } : {}),
    });
    if (batch.tokenSpans === undefined) {
      throw new ConfigError(
        'tokenizer',
        `${options.input}: some records carry token ids without token spans; give --tokenizer or --from so spans can be computed, or add tokenSpans`,
        { source: '@hicra/reference' },
      );
    }
    const planning = strategicGrams.classify({
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      texts: batch.responseTexts!,
      tokenSpans: batch.tokenSpans,
      responseMask: batch.responseMask,
    });
    const withPlanning = { ...batch, planningMask: planning.mask };
    const pipeline = defaultRegistry.pipeline(
      options.credit ?? { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] },
    );
    const credit = pipeline.run(withPlanning);
    const annotated = rolloutRecordsFromBatch(withPlanning, { credit, planning, groupKeys });
    const out: RolloutRecordV1[] = records.map((record) => record);
    annotated.forEach((record, row) => {
      const original = records[recordIndex[row]!]!;
      out[recordIndex[row]!] = {
        ...original,
        ...record,
        ...(original.meta ? { meta: original.meta } : {}),
      };
    });
    await writeFileAtomic(options.out, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const counts = new Map<string, number>();
    for (const matches of planning.matches)
      for (const m of matches) counts.set(m.gram, (counts.get(m.gram) ?? 0) + 1);
    const metrics = stepMetrics({
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      responseMask: batch.responseMask,
      planningMask: planning.mask,
      planningMatches: planning.matches,
      responseTexts: batch.responseTexts!,
      ...(batch.oldLogProbs ? { logProbs: batch.oldLogProbs } : {}),
      ...(batch.entropies ? { entropies: batch.entropies } : {}),
    });
    return {
      out: options.out,
      responses: batch.batchSize,
      unscorable: dropped.length,
      metrics: { ...metrics, ...credit.diagnostics },
      phraseCounts: [...counts.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([gram, count]) => ({ gram, count })),
    };
  } finally {
    await hf?.close();
  }
}
