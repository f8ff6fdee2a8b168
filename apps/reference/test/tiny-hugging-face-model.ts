/**
 * A stand-in for a downloaded Hugging Face model in tests: a small Qwen3-architecture model
 * (grouped-query attention, q/k norms) with seeded weights and a word-level `tokenizer.json`
 * over the Countdown vocabulary, saved in the Hugging Face layout.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveHuggingFaceModel, TransformerPolicy } from '@hicra/policy';

const app = fileURLToPath(new URL('..', import.meta.url));
const SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>'];
/** The id of `<eos>`. */
export const TINY_EOS = 2;

/** Writes tokenizer.json, tokenizer_config.json and generation_config.json; returns the vocabulary size. */
function writeTokenizerFiles(folder: string): number {
  const words = JSON.parse(readFileSync(join(app, 'data/countdown-base/tokenizer.json'), 'utf8'))
    .vocabulary as string[];
  const tokens = [...SPECIALS, ...words.filter((w) => w.trim() !== '')];
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
      model: {
        type: 'WordLevel',
        vocab: Object.fromEntries(tokens.map((token, id) => [token, id])),
        unk_token: '<unk>',
      },
    }),
  );
  writeFileSync(
    join(folder, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: '<bos>',
      eos_token: '<eos>',
      pad_token: '<pad>',
      unk_token: '<unk>',
    }),
  );
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ eos_token_id: TINY_EOS }));
  return tokens.length;
}

/** Saves the tiny model to `folder` (created or replaced). */
export async function writeTinyHuggingFaceModel(folder: string): Promise<void> {
  const files = mkdtempSync(join(tmpdir(), 'hicra-tiny-hf-'));
  try {
    mkdirSync(files, { recursive: true });
    const vocabSize = writeTokenizerFiles(files);
    const policy = TransformerPolicy.create(
      {
        vocabSize,
        contextLength: 256,
        width: 32,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        headDim: 16,
        mlpWidth: 64,
        mlp: 'swiglu',
        norm: 'rmsnorm',
        tiedEmbeddings: true,
        qkNorm: true,
        ropeBase: 1_000_000,
        normEpsilon: 1e-6,
      },
      { seed: 3 },
    );
    try {
      await saveHuggingFaceModel(folder, policy, { copyFilesFrom: files, eosTokenIds: [TINY_EOS] });
    } finally {
      policy.dispose();
    }
  } finally {
    rmSync(files, { recursive: true, force: true });
  }
}
