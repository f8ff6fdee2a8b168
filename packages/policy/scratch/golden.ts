import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, tf } from '@hicra/tensor';
import { decodeSafetensors } from '../src/checkpoint/safetensors.js';
import { parseHuggingFaceConfig } from '../src/hugging-face/config.js';
import { readHuggingFaceWeights } from '../src/hugging-face/weights.js';
import { Transformer } from '../src/model/transformer.js';
import { TransformerPolicy } from '../src/transformer-policy.js';
import { ropeInverseFrequencies } from '../src/model/config.js';

await initBackend(process.argv[2] as 'cpu');
const root = join(import.meta.dirname, '../test/fixtures/hf');
for (const name of readdirSync(root).filter((n) => !n.endsWith('.md'))) {
  const dir = join(root, name);
  const cfg = parseHuggingFaceConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const tensors = new Map<string, { dtype: string; shape: readonly number[]; data: ArrayLike<number> }>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.safetensors'))) {
    for (const [k, v] of decodeSafetensors(readFileSync(join(dir, f))).tensors) tensors.set(k, v);
  }
  const source = {
    where: dir,
    tensors,
    async readFloat32(n: string) {
      const t = tensors.get(n)!;
      if (t.dtype === 'BF16') {
        const out = new Float32Array(t.data.length);
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < out.length; i++) u[i] = (t.data[i]! << 16) >>> 0;
        return out;
      }
      return Float32Array.from(t.data);
    },
  };
  const params = await readHuggingFaceWeights(source, cfg.transformer);
  const policy = new TransformerPolicy(Transformer.fromVariables(cfg.transformer, params));
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  const inv = ropeInverseFrequencies(cfg.transformer);
  let invErr = 0;
  expected.ropeInvFreq.forEach((v: number, i: number) => { invErr = Math.max(invErr, Math.abs(inv[i]! - v) / v); });
  let maxDiff = 0;
  for (const c of expected.cases) {
    const L = c.inputIds.length;
    const logits = policy.fullLogits(Int32Array.from(c.inputIds), 1, L);
    const data = logits.dataSync();
    logits.dispose();
    const V = cfg.transformer.vocabSize;
    for (let t = 0; t < L; t++) for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(data[t * V + v]! - c.logits[t][v]));
  }
  console.log(name, 'maxDiff', maxDiff.toExponential(2), 'invFreq rel', invErr.toExponential(2), 'tensors', tf.memory().numTensors);
  policy.dispose();
}
