#!/usr/bin/env node
// Fails when a workspace package imports against the dependency direction of DESIGN.md,
// or when a package other than @hicra/tensor imports @tensorflow/*.
import { resolve } from 'node:path';
import { checkDependencyDirection } from '../src/check-deps.mjs';

const root = resolve(process.argv[2] ?? '.');
const violations = checkDependencyDirection(root);
for (const v of violations) {
  console.error(`${v.file}${v.line ? `:${v.line}` : ''}: ${v.from} imports ${v.to}: ${v.reason}`);
}
if (violations.length > 0) {
  console.error(`check-deps: ${violations.length} violation(s) of the dependency direction`);
  process.exit(1);
}
console.log('check-deps: every import follows the dependency direction');
