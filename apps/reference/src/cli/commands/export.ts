import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type HuggingFaceDtype,
  HuggingFaceTokenizer,
  huggingFaceModelTypeOf,
  loadCheckpoint,
  parameterCount,
  saveHuggingFaceModel,
} from '@hicra/policy';
import { defineCommand, requireCheckpointFolder } from '../command.js';
import { InputError } from '../errors.js';
import { progress } from '../output.js';

export const exportCommand = defineCommand({
  spec: {
    command: 'export',
    options: ['from', 'out', 'dtype', 'force'],
    required: ['from', 'out'],
  },
  summary: 'a checkpoint as a Hugging Face model folder (transformers, vLLM)',
  usage: 'hicra export --from CHECKPOINT --out DIR [--dtype float32|bfloat16|float16] [--force]',
  description:
    'Writes a checkpoint of a Qwen2, Qwen3 or Llama architecture (a run started from a Hugging\n' +
    'Face folder) as a Hugging Face model folder: config.json, safetensors under Hugging Face\n' +
    "names, and the checkpoint's tokenizer files. The built-in Countdown models (LayerNorm, GELU)\n" +
    'have no Hugging Face class and are refused. An existing, non-empty DIR is refused unless\n' +
    '--force is given.',
  examples: ['hicra export --from runs/my-qwen/checkpoint --out exported-qwen --dtype bfloat16'],
  usesBackend: true,
  async run({ values }, { output }) {
    requireCheckpointFolder(values.from!, '--from');
    const out = resolve(values.out!);
    if (existsSync(out)) {
      if (!statSync(out).isDirectory())
        throw new InputError(`--out ${values.out}: is a file; export writes a model folder`);
      if (!(values.force ?? false) && readdirSync(out).length > 0)
        throw new InputError(
          `--out ${values.out}: the folder exists and is not empty; choose another --out, or give --force to replace it`,
        );
    }
    const from = resolve(values.from!);
    const loaded = await loadCheckpoint(from);
    try {
      const family = huggingFaceModelTypeOf(loaded.policy.config);
      if ('problem' in family)
        throw new InputError(
          `--from ${values.from}: this model has no Hugging Face architecture: ${family.problem}`,
        );
      const dtype = (values.dtype ?? 'float32') as HuggingFaceDtype;
      const tokenizer =
        loaded.tokenizer instanceof HuggingFaceTokenizer ? loaded.tokenizer : undefined;
      const eos =
        loaded.stopTokenIds ??
        (tokenizer?.specialTokens.eos === undefined ? [] : [tokenizer.specialTokens.eos]);
      await saveHuggingFaceModel(out, loaded.policy, {
        dtype,
        ...(tokenizer ? { copyFilesFrom: from } : {}),
        ...(eos.length > 0 ? { eosTokenIds: eos } : {}),
      });
      if (loaded.tokenizer !== undefined && tokenizer === undefined)
        progress(
          output,
          `note: the checkpoint's word tokenizer has no Hugging Face form; ${out} has no tokenizer.json`,
        );
      const parameters = parameterCount(loaded.policy.config);
      progress(
        output,
        `exported ${family.modelType} (${parameters.toLocaleString('en-US')} parameters, ${dtype}) -> ${out}`,
      );
      return {
        out,
        modelType: family.modelType,
        parameters,
        dtype,
        tokenizer: tokenizer !== undefined,
      };
    } finally {
      loaded.policy.dispose();
      if (loaded.tokenizer instanceof HuggingFaceTokenizer) await loaded.tokenizer.close();
    }
  },
});
