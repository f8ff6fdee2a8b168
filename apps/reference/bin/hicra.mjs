#!/usr/bin/env node
// The `hicra` command. Runs the built CLI (dist/); in the repository, `pnpm build` makes it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(built)) {
  console.error(
    'hicra: the CLI is not built yet; run `pnpm build` in the repository (or `pnpm --filter @hicra/reference build`)',
  );
  process.exit(1);
}
const { main } = await import(built);
process.exitCode = await main(process.argv.slice(2));
