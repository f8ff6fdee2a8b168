import { initBackend } from '@hicra/tensor';
import { pretrain } from './src/index.js';

await initBackend('wasm');
const t = performance.now();
const r = await pretrain({
  out: '/tmp/hicra-pt0/base',
  seed: 0,
  steps: Number(process.argv[2] ?? 150),
  evalProblems: 64,
  level: 0,
  onStep: (s, l) => {
    if (s % 25 === 0) console.log(s, l.toFixed(3), ((performance.now() - t) / 1000).toFixed(1));
  },
});
console.log(JSON.stringify(r), ((performance.now() - t) / 1000).toFixed(1), 's');
