#!/usr/bin/env node
// The README's test command ends here: prepare what the tests need beyond `pnpm install`,
// then run every project's tests once and write a machine-readable report.
//
//   pnpm test                 all tests
//   pnpm test -- <filter>     forwarded to vitest (file filters, --project <name>, ...)
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestPrerequisites } from './prerequisites.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const report = join(root, 'reports', 'vitest.json');
mkdirSync(dirname(report), { recursive: true });

ensureTestPrerequisites();

const args = process.argv.slice(2).filter((arg) => arg !== '--');
const result = spawnSync(
  join(root, 'node_modules', '.bin', 'vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args],
  { cwd: root, stdio: 'inherit' },
);
if (result.error) {
  console.error(
    `pnpm test: could not start vitest (${result.error.message}); run pnpm install first`,
  );
  process.exit(1);
}
console.log(`pnpm test: machine-readable report in ${report}`);
process.exit(result.status ?? 1);
