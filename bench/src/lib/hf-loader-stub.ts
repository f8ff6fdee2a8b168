/**
 * STUB, TEMPORARY: stands in for `loadHuggingFaceModel` from @hicra/policy until it lands on
 * main, so that the hf-model benchmark can be developed. It is assembled from the pieces already
 * on main (config parsing and the tensor mapping, imported by relative path because the package
 * does not export them yet). Delete this file and import `loadHuggingFaceModel` from
 * '@hicra/policy' in src/hf-model.ts once the real loader exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFile, Transformer, TransformerPolicy } from '@hicra/policy';
import { parseHuggingFaceConfig } from '../../../packages/policy/src/hugging-face/config.js';
import { readHuggingFaceWeights } from '../../../packages/policy/src/hugging-face/weights.js';

export async function loadHuggingFaceModel(
  dir: string,
): Promise<{ policy: TransformerPolicy; config: unknown }> {
  const where = join(dir, 'config.json');
  const config = parseHuggingFaceConfig(JSON.parse(readFileSync(where, 'utf8')), where);
  const content = await readSafetensorsFile(join(dir, 'model.safetensors'));
  const params = await readHuggingFaceWeights(
    {
      where: dir,
      tensors: content.tensors,
      readFloat32: async (name) => content.tensors.get(name)!.data as Float32Array,
    },
    config.transformer,
  );
  return {
    policy: new TransformerPolicy(Transformer.fromVariables(config.transformer, params)),
    config,
  };
}
