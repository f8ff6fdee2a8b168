/**
 * The Parquet schema of a verl RL dataset as verl's `examples/data_preprocess/gsm8k.py` writes
 * it through pyarrow: `data_source`, `prompt` (a three-level list of `{content, role}`
 * structs), `ability`, `reward_model` (`{ground_truth, style}`), `extra_info` (`{answer,
 * index: int64, question, split}`); every field optional, struct fields in pyarrow's sorted
 * order. In the flat form Parquet writers take (`hyparquet-writer`'s `schema` option, the
 * Thrift `SchemaElement` list), so JavaScript code can write files verl reads.
 */
export const VERL_DATASET_PARQUET_SCHEMA = [
  { name: 'root', num_children: 5 },
  { name: 'data_source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'prompt', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'ability', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'ground_truth', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'style', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 4 },
  { name: 'answer', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'question', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'split', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
] as const;

/** The top-level columns of {@link VERL_DATASET_PARQUET_SCHEMA}, in order. */
export const VERL_DATASET_COLUMNS = [
  'data_source',
  'prompt',
  'ability',
  'reward_model',
  'extra_info',
] as const;
