#!/usr/bin/env node
// Quickstart: read rollouts exported by any system (the rollout JSON Lines schema of
// @hicra/spec), pack them into a validated RolloutBatchV1, and print what a credit pipeline
// will see: groups, response lengths and the group-relative reward spread.
//
//   node src/main.mjs <rollouts.jsonl> [--json]
import { readFileSync } from 'node:fs';
import {
  HicraError,
  parseRolloutRecord,
  responseLengths,
  rolloutBatchFromRecords,
  validateRolloutBatch,
} from '@hicra/spec';

export function summarise(text, file = 'rollouts') {
  const records = [];
  const lineOf = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file} line ${i + 1}: not valid JSON (${error.message})`);
    }
    records.push(parseRolloutRecord(value, `${file} line ${i + 1}`));
    lineOf.push(i + 1);
  });
  const { batch, groupKeys, dropped } = rolloutBatchFromRecords(records, {
    unscorable: 'drop',
    describe: (i) => `${file} line ${lineOf[i]}`,
  });
  validateRolloutBatch(batch);
  const lengths = responseLengths(batch);
  const groups = groupKeys.map((key, id) => {
    const rows = [];
    for (let i = 0; i < batch.batchSize; i++) if (batch.groupIds[i] === id) rows.push(i);
    const rewards = rows.map((i) => batch.rewards[i]);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    return {
      group: key,
      responses: rows.length,
      rewardMean: mean,
      rewardSpread: Math.max(...rewards) - Math.min(...rewards),
      meanLength: rows.reduce((a, i) => a + lengths[i], 0) / rows.length,
    };
  });
  return {
    responses: batch.batchSize,
    paddedLength: batch.seqLen,
    unscorableDropped: dropped.length,
    groupsWithSignal: groups.filter((g) => g.rewardSpread > 0).length,
    groups,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: hicra-quickstart <rollouts.jsonl> [--json]');
    process.exit(2);
  }
  try {
    const summary = summarise(readFileSync(file, 'utf8'), file);
    if (process.argv.includes('--json')) console.log(JSON.stringify(summary));
    else {
      console.log(
        `${summary.responses} responses, padded to ${summary.paddedLength} tokens; ${summary.unscorableDropped} unscorable left out`,
      );
      console.log(
        `${summary.groupsWithSignal} of ${summary.groups.length} groups have a reward spread (GRPO learns only from those)`,
      );
      for (const g of summary.groups) {
        console.log(
          `  group ${JSON.stringify(g.group)}: ${g.responses} responses, mean reward ${g.rewardMean.toFixed(3)}, spread ${g.rewardSpread.toFixed(3)}, mean length ${g.meanLength.toFixed(1)}`,
        );
      }
    }
  } catch (error) {
    console.error(
      HicraError.isInstance(error)
        ? `${error.code}: ${error.message}`
        : String(error.message ?? error),
    );
    process.exit(1);
  }
}
