#!/usr/bin/env node
// The README's main job: build the packages, then run the reference demo (`hicra demo`): reuse
// or pretrain the base checkpoint, compare GRPO and HICRA over two seeds with the same budget,
// and write the HTML report. Extra arguments go to `hicra demo` (e.g. --out, --seeds, --steps).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(command, args) {
  console.log(`\n$ ${[command.replace(`${root}/`, ''), ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    console.error(`demo: ${result.error?.message ?? `exit status ${result.status}`}`);
    process.exit(result.status || 1);
  }
}

run(bin('turbo'), ['run', 'build', '--filter=@hicra/reference...', '--output-logs=errors-only']);
const extra = process.argv.slice(2).filter((arg) => arg !== '--');
run(process.execPath, [
  join(root, 'apps/reference/bin/hicra.mjs'),
  'demo',
  '--out',
  join(root, 'runs/demo'),
  ...extra,
]);
