#!/usr/bin/env node
// The `hicra` command. Runs the built CLI (dist/). In a checkout where it is not built yet,
// it runs the TypeScript source through tsx instead (slower to start; `pnpm build` makes dist/).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

if (existsSync(built)) {
  const { main } = await import(built);
  process.exitCode = await main(process.argv.slice(2));
} else {
  let tsx;
  try {
    tsx = createRequire(import.meta.url).resolve('tsx');
  } catch {
    tsx = undefined;
  }
  if (!existsSync(source) || tsx === undefined) {
    console.error(
      'hicra: the CLI is not built yet; run `pnpm build` in the repository (or `pnpm --filter @hicra/reference build`)',
    );
    process.exit(1);
  }
  // Signals reach the child (same process group); this process only waits for its exit code.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  const child = spawn(
    process.execPath,
    // tsx by absolute URL: `--import tsx` would resolve from the working directory.
    [
      '--import',
      pathToFileURL(tsx).href,
      '--conditions=@hicra/source',
      source,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit' },
  );
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 130 : 1);
  });
}
