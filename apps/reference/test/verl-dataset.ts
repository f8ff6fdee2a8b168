/**
 * Writes small Parquet files in the layout of verl's `examples/data_preprocess/gsm8k.py`
 * output (PROTOCOLS.md part 3), as pyarrow lays such rows out: three-level lists, optional
 * structs, an INT64 index. For tests of `hicra train --dataset`.
 */
import { writeFileSync } from 'node:fs';
import { VERL_DATASET_COLUMNS, VERL_DATASET_PARQUET_SCHEMA } from '@hicra/tasks';
import { parquetWriteBuffer } from 'hyparquet-writer';

const INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".';

const SCHEMA: readonly { name: string; num_children?: number }[] = VERL_DATASET_PARQUET_SCHEMA;

/** A GSM8K-style problem: `a + b` apples, answer `a + b`. */
export function gsm8kRow(index: number, split: 'train' | 'test') {
  const a = 3 + (index % 7);
  const b = 2 + ((index * 5) % 9);
  const question = `Tom has ${a} apples and buys ${b} more. How many apples does he have?`;
  const solution = `Tom has ${a} + ${b} = <<${a}+${b}=${a + b}>>${a + b} apples.\n#### ${a + b}`;
  return {
    data_source: 'openai/gsm8k',
    prompt: [{ role: 'user', content: `${question} ${INSTRUCTION}` }],
    ability: 'math',
    reward_model: { style: 'rule', ground_truth: String(a + b) },
    extra_info: { split, index: BigInt(index), answer: solution, question },
  };
}

/** Writes `rows` (default `count` GSM8K-style rows) as a snappy Parquet file at `path`. */
export function writeVerlDataset(
  path: string,
  count: number,
  split: 'train' | 'test',
  options: { columns?: readonly string[] } = {},
): void {
  const rows = Array.from({ length: count }, (_, i) => gsm8kRow(i, split));
  const columns = options.columns ?? VERL_DATASET_COLUMNS;
  // Keep each written top-level column's subtree (the column and its children), in order.
  const kept: (typeof SCHEMA)[number][] = [];
  for (let i = 1; i < SCHEMA.length; i += subtreeSize(i))
    if (columns.includes(SCHEMA[i]!.name)) kept.push(...SCHEMA.slice(i, i + subtreeSize(i)));
  const schema = [{ ...SCHEMA[0]!, num_children: columns.length }, ...kept];
  const buffer = parquetWriteBuffer({
    columnData: columns.map((name) => ({
      name,
      data: rows.map((row) => row[name as keyof typeof row]),
    })),
    schema: schema as never,
    codec: 'SNAPPY',
  });
  writeFileSync(path, new Uint8Array(buffer));
}

/** How many schema elements the subtree at `k` spans (itself included). */
function subtreeSize(k: number): number {
  let n = 1;
  let children = SCHEMA[k]!.num_children ?? 0;
  let j = k + 1;
  while (children > 0) {
    const size = subtreeSize(j);
    n += size;
    j += size;
    children--;
  }
  return n;
}
