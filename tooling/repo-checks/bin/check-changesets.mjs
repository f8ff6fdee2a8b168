#!/usr/bin/env node
// Fails when a published package's source changed since the last `changeset version` commit
// (or the root commit) and no pending changeset names the package. See ../README.md.
import { resolve } from 'node:path';
import { ChangesetCheckError, checkChangesets } from '../src/check-changesets.mjs';

/** How many changed files to print per package before a count. */
const SHOWN = 5;

const root = resolve(process.argv[2] ?? '.');
let report;
try {
  report = checkChangesets(root);
} catch (error) {
  if (!(error instanceof ChangesetCheckError)) throw error;
  console.error(`check-changesets: ${error.message}`);
  process.exit(1);
}
const { base, missing, errors, covered, removed, changesets } = report;
for (const { file, message } of errors) console.error(`${file}: ${message}`);
for (const { package: name, files } of missing) {
  console.error(
    `${name}: source changed since ${base.commit.slice(0, 10)} with no changeset naming it:`,
  );
  for (const file of files.slice(0, SHOWN)) console.error(`  ${file}`);
  if (files.length > SHOWN) console.error(`  ... and ${files.length - SHOWN} more file(s)`);
}
if (missing.length > 0)
  console.error(
    'fix: run `pnpm changeset`, select the package(s) above, pick the bump and describe the change for users ' +
      '(a "none" bump if users see no difference), then commit the new file in .changeset/',
  );
if (errors.length > 0)
  console.error(
    'fix: correct or remove the changeset file(s) above (front matter: "<package>": patch|minor|major|none)',
  );
if (missing.length > 0 || errors.length > 0) {
  console.error(
    `check-changesets: compared with ${base.label}: ${missing.length} package(s) without a changeset, ${errors.length} malformed changeset(s)`,
  );
  process.exit(1);
}
if (removed.length > 0)
  console.log(
    `check-changesets: note: no longer in the workspace (nothing to version): ${removed.join(', ')}`,
  );
console.log(
  `check-changesets: compared with ${base.label}: ${covered.length} published package(s) changed, each named by one of ${changesets} pending changeset(s)`,
);
