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
  // A top-level column's elements (it and its children) are kept when the column is written.
  const schema = SCHEMA.filter(
    (_, i) => i === 0 || columns.includes(SCHEMA[topLevelOf(i)]!.name),
  ).map((element, i) => (i === 0 ? { ...element, num_children: columns.length } : element));
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

/** The index in SCHEMA of the top-level column element `i` belongs to. */
function topLevelOf(i: number): number {
  let top = 1;
  let remaining = 0;
  for (let k = 1; k <= i; k++) {
    if (remaining === 0) {
      top = k;
      remaining = countElements(k);
    }
    remaining--;
  }
  return top;
}

/** How many schema elements the subtree at `k` spans (itself included). */
function countElements(k: number): number {
  let n = 1;
  let children = SCHEMA[k]!.num_children ?? 0;
  let j = k + 1;
  while (children > 0) {
    const size = countElements(j);
    n += size;
    j += size;
    children--;
  }
  return n;
}
