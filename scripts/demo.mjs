#!/usr/bin/env node
// The README's main job. Until the reference app (`hicra demo`) exists, this builds the
// packages and runs the quickstart example end to end on the built output, as a user would.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(command, args) {
  console.log(`\n$ ${[command.replace(`${root}/`, ''), ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    console.error(
      `demo: ${result.error?.message ?? `exit status ${result.status}`}; did pnpm install run?`,
    );
    process.exit(result.status || 1);
  }
}

run(bin('turbo'), [
  'run',
  'build',
  '--filter=@hicra/example-quickstart...',
  '--output-logs=errors-only',
]);
run(process.execPath, [
  join(root, 'examples/quickstart/src/main.mjs'),
  join(root, 'examples/quickstart/data/rollouts.jsonl'),
]);
