import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A throw-away workspace: `files` maps relative paths to contents (objects become JSON). */
export function makeWorkspace(files: Record<string, string | object>): {
  root: string;
  dispose: () => void;
} {
  const root = mkdtempSync(join(tmpdir(), 'hicra-repo-checks-'));
  for (const [path, content] of Object.entries(files)) {
    if (content === undefined) continue;
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(
      full,
      typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`,
    );
  }
  return { root, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export const manifest = (name: string, extra: object = {}) => ({
  name,
  version: '0.0.0',
  type: 'module',
  ...extra,
});
