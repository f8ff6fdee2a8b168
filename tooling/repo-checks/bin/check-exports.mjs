#!/usr/bin/env node
// Run after a build: every package's exports exist, are published and load under Node.
import { resolve } from 'node:path';
import { checkExports } from '../src/check-exports.mjs';

const root = resolve(process.argv[2] ?? '.');
const problems = checkExports(root);
for (const p of problems) console.error(`${p.package} ${p.subpath}: ${p.problem}`);
if (problems.length > 0) {
  console.error(`check-exports: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('check-exports: every export resolves and loads');
