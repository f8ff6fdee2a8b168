/**
 * A math task from a dataset file: verl's Parquet layout (`data_source`, `prompt` as chat
 * messages, `reward_model.ground_truth`, ...), for `hicra train --dataset`. Prompts are the
 * model's chat template applied to the row's messages when the model folder has one, else the
 * last user message; rewards come from the math verifier, reading `\boxed{}`, `Answer:` and
 * GSM8K's `#### ` lines.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ChatTemplate, readChatTemplate } from '@hicra/policy';
import { ConfigError, type RewardFunctionV1 } from '@hicra/spec';
import { createMathCorrectnessReward, loadVerlDataset, type VerlProblem } from '@hicra/tasks';
import type { Problem } from '@hicra/trainer';

const SOURCE = '@hicra/reference';

/** Evaluation problems held out of a training file when no evaluation file is given: at most. */
export const HELD_OUT_MAX = 256;

export interface DatasetTaskOptions {
  /** The training rows: a verl-style Parquet file. */
  readonly dataset: string;
  /** Held-out rows to evaluate on; default the last rows of `dataset` (see {@link loadDatasetTask}). */
  readonly evalDataset?: string;
  /** The model (or tokenizer) folder whose chat template renders the prompts, when it has one. */
  readonly modelDir?: string;
}

export interface DatasetTask {
  readonly trainProblems: readonly Problem[];
  readonly evalProblems: readonly Problem[];
  readonly reward: RewardFunctionV1;
  /** False when prompts are chat-templated (the template writes the special tokens). */
  readonly addSpecialTokens: boolean;
  /** What the user should know: rows skipped, rows held out, no chat template. */
  readonly notes: readonly string[];
}

async function readProblems(path: string): Promise<{ rows: VerlProblem[]; notes: string[] }> {
  if (!existsSync(path) || statSync(path).isDirectory())
    throw new ConfigError(
      'dataset',
      `${path}: no such dataset file (a Parquet file in verl's layout)`,
      {
        source: SOURCE,
        details: { path },
      },
    );
  const reader = loadVerlDataset(path);
  const rows: VerlProblem[] = [];
  for await (const { value } of reader) rows.push(value);
  const notes: string[] = [];
  const bad = reader.report.badRows;
  if (bad.length > 0) {
    const first = bad[0]!;
    notes.push(
      `${path}: ${bad.length} of ${reader.report.rows} rows skipped (first: row ${first.row}, column "${first.column}": ${first.reason})`,
    );
  }
  if (rows.length === 0)
    throw new ConfigError('dataset', `${path}: no usable rows`, {
      source: SOURCE,
      details: { path },
    });
  return { rows, notes };
}

function toProblem(row: VerlProblem, template: ChatTemplate | undefined): Problem {
  return {
    id: row.id,
    prompt: template ? template.render(row.messages, { addGenerationPrompt: true }) : row.problem,
    reference: row.answer,
  };
}

/**
 * Loads a dataset task. Without `evalDataset`, the last `min(256, rows / 10)` rows of the
 * training file are held out for evaluation and never trained on (a file of fewer than 10 rows
 * needs an evaluation file).
 */
export async function loadDatasetTask(options: DatasetTaskOptions): Promise<DatasetTask> {
  const train = await readProblems(options.dataset);
  const notes = [...train.notes];
  let template: ChatTemplate | undefined;
  if (options.modelDir !== undefined) {
    const dir = statSync(options.modelDir).isDirectory()
      ? options.modelDir
      : dirname(options.modelDir);
    template = await readChatTemplate(dir);
  }
  if (template === undefined)
    notes.push('the model folder has no chat template: prompts are the last user message, as text');
  let trainRows = train.rows;
  let evalRows: VerlProblem[];
  if (options.evalDataset !== undefined) {
    const held = await readProblems(options.evalDataset);
    notes.push(...held.notes);
    evalRows = held.rows;
  } else {
    const count = Math.min(HELD_OUT_MAX, Math.floor(trainRows.length / 10));
    if (count < 1)
      throw new ConfigError(
        'evalDataset',
        `${options.dataset}: ${trainRows.length} rows are too few to hold some out for evaluation; give --eval-dataset`,
        { source: SOURCE },
      );
    evalRows = trainRows.slice(trainRows.length - count);
    trainRows = trainRows.slice(0, trainRows.length - count);
    notes.push(
      `evaluating on the last ${count} rows of ${options.dataset}, held out of training (give --eval-dataset to choose)`,
    );
  }
  return {
    trainProblems: trainRows.map((row) => toProblem(row, template)),
    evalProblems: evalRows.map((row) => toProblem(row, template)),
    reward: createMathCorrectnessReward({
      verifier: { formats: ['gsm8k', 'boxed', 'answer-line'] },
    }),
    addSpecialTokens: template === undefined,
    notes,
  };
}
