import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HicraError, type PlanningClassifierV1 } from '@hicra/spec';
import { annotateRollouts } from '../../annotate.js';
import { isAnnotatedParquet } from '../../annotated-parquet.js';
import { defineCommand, readJsonObjectFile, requireCheckpointFolder } from '../command.js';
import { InputError, UsageError } from '../errors.js';
import { progress } from '../output.js';
import { isSettingsError, pluginRegistry } from './train.js';

/** Whether the file's first record is an annotated rollout (it has planning matches). */
function isAnnotatedRollouts(path: string): boolean {
  const firstLine = readFileSync(path, 'utf8').split('\n', 1)[0] ?? '';
  try {
    const record = JSON.parse(firstLine);
    return typeof record === 'object' && record !== null && 'planningMatches' in record;
  } catch {
    return false;
  }
}

export const annotateCommand = defineCommand({
  spec: {
    command: 'annotate',
    options: [
      'out',
      'tokenizer',
      'from',
      'from-format',
      'span-unit',
      'credit',
      'classifier',
      'plugin',
      'force',
    ],
    positionals: { name: 'rollouts file or verl dump folder', min: 1, max: 1 },
  },
  summary:
    'planning matches, phrase counts, strategy entropy and credit for rollouts from elsewhere',
  usage:
    'hicra annotate ROLLOUTS [--out FILE.jsonl|FILE.parquet] [--tokenizer tokenizer.json | --from MODEL] [--from-format auto|hicra|verl] [--span-unit utf16|codepoint] [--credit pipeline.json] [--classifier NAME|FILE.json] [--plugin FILE.js ...] [--force]',
  description:
    'Rollouts in; planning matches and mask, credit (GRPO + HICRA by default) out, plus phrase\n' +
    'counts and strategy semantic entropy. ROLLOUTS is a file in the rollout JSON Lines schema\n' +
    '(docs/formats.md), or verl rollout dumps: one {step}.jsonl of trainer.rollout_data_dir, or\n' +
    'that folder (responses to the same input within a step form a group; score is the reward).\n' +
    'Records without token ids (verl dumps always) need --tokenizer or --from to be tokenised;\n' +
    'ids without spans get spans by decoding the ids, which must reproduce the response text.\n' +
    "Groups are (step, groupId), so a trainer's multi-step rollouts.jsonl reads as it is.\n" +
    'Without --out the result goes to ROLLOUTS.annotated.jsonl beside the input (for a folder,\n' +
    'FOLDER.annotated.jsonl beside it). An existing output that is not annotated rollouts is\n' +
    'refused unless --force is given; the input is never overwritten. Offsets are written in\n' +
    'UTF-16 code units, or in code points with --span-unit codepoint (for Python readers).\n' +
    '--out FILE.parquet writes Parquet, one row per response with per-token list columns\n' +
    '(token ids, advantages, planning mask, matches; docs/formats.md) for pandas or pyarrow.\n' +
    'Up to 10 bad records are listed with their file and line, then a count of the rest.\n' +
    '--classifier picks the planning classifier (default strategic-grams): a registry name, or a\n' +
    'JSON file {"name": ..., ...settings}; --plugin adds classifiers, estimators and assigners.',
  examples: [
    'hicra annotate rollouts.jsonl --out annotated.jsonl --tokenizer ./model/tokenizer.json',
    'hicra annotate rollouts.jsonl --from ./my-qwen',
    'hicra annotate verl_rollouts/ --from ./my-qwen --span-unit codepoint --out annotated.parquet',
  ],
  usesBackend: false,
  async run({ values, positionals }, { output }) {
    const input = resolve(positionals[0]!);
    if (!existsSync(input)) throw new InputError(`${positionals[0]}: no such rollouts file`);
    const folder = statSync(input).isDirectory();
    if (folder && values['from-format'] === 'hicra')
      throw new InputError(
        `${positionals[0]}: is a directory; rollout records come in one file (a folder is read as verl rollout dumps)`,
      );
    const { registry, classifiers } = await pluginRegistry(values.plugin);
    let classifier: PlanningClassifierV1 | undefined;
    if (values.classifier !== undefined) {
      const given = values.classifier;
      const config = given.endsWith('.json')
        ? readJsonObjectFile(given, '--classifier')
        : { name: given };
      try {
        classifier = classifiers.create(config as { name: string });
      } catch (error) {
        if (HicraError.isInstance(error))
          throw new UsageError(
            `--classifier ${given}: ${error.message.replace(/^@hicra\/[\w-]+: (config: )?/, '')}`,
          );
        throw error;
      }
    }
    let credit: Record<string, unknown> | undefined;
    if (values.credit !== undefined) {
      credit = readJsonObjectFile(values.credit, '--credit');
      try {
        registry.pipeline(credit);
      } catch (error) {
        if (isSettingsError(error))
          throw new UsageError(`--credit ${values.credit}: ${error.message}`);
        throw error;
      }
    }
    if (values.tokenizer !== undefined && !existsSync(values.tokenizer))
      throw new InputError(`--tokenizer ${values.tokenizer}: no such file or folder`);
    if (values.tokenizer !== undefined && values.from !== undefined)
      throw new UsageError('give --tokenizer or --from, not both');
    if (values.from !== undefined) requireCheckpointFolder(values.from, '--from');
    const out = resolve(
      values.out ??
        `${folder ? input.replace(/\/+$/, '') : input.replace(/\.jsonl$/, '')}.annotated.jsonl`,
    );
    if (out === input)
      throw new UsageError('--out names the input file; annotate never overwrites its input');
    if (existsSync(out)) {
      if (statSync(out).isDirectory())
        throw new InputError(`--out ${values.out}: is a directory; give a file name`);
      const annotated = out.endsWith('.parquet')
        ? await isAnnotatedParquet(out)
        : isAnnotatedRollouts(out);
      if (!(values.force ?? false) && !annotated)
        throw new InputError(
          `--out ${values.out ?? out}: the file exists and is not annotated rollouts; choose another --out, or give --force to replace it`,
        );
    }
    mkdirSync(dirname(out), { recursive: true });
    const result = await annotateRollouts({
      input,
      out,
      ...(values.tokenizer ? { tokenizer: resolve(values.tokenizer) } : {}),
      ...(values.from ? { from: resolve(values.from) } : {}),
      ...(credit ? { credit } : {}),
      registry,
      ...(classifier ? { classifier } : {}),
      ...(values['from-format'] ? { format: values['from-format'] } : {}),
      ...(values['span-unit'] ? { spanUnit: values['span-unit'] } : {}),
    });
    const entropy = result.metrics['strategy/semantic_entropy'];
    progress(
      output,
      `annotated ${result.responses} responses${result.format === 'verl' ? ' from verl dumps' : ''} (${result.unscorable} unscorable passed through) -> ${out}; ` +
        `strategy semantic entropy ${entropy === undefined ? 'n/a' : entropy.toFixed(3)} nats; top phrases: ` +
        result.phraseCounts
          .slice(0, 5)
          .map((p) => `"${p.gram}" ${p.count}`)
          .join(', '),
    );
    return result;
  },
});
