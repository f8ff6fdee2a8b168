import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A throw-away git repository with a fixed author and a clock that ticks one minute a commit. */
export interface GitRepo {
  root: string;
  /** Writes files (objects become JSON); `null` deletes one. */
  write: (files: Record<string, string | object | null>) => void;
  /** Stages everything and commits; returns the commit id. */
  commit: (message: string) => string;
  git: (...args: string[]) => string;
  dispose: () => void;
}

export function makeGitRepo(files: Record<string, string | object | null> = {}): GitRepo {
  const root = mkdtempSync(join(tmpdir(), 'hicra-changesets-'));
  let minute = 0;
  const git = (...args: string[]) => {
    const date = `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`;
    const result = spawnSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'test',
        GIT_AUTHOR_EMAIL: 'test@example.invalid',
        GIT_COMMITTER_NAME: 'test',
        GIT_COMMITTER_EMAIL: 'test@example.invalid',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };
  const write = (entries: Record<string, string | object | null>) => {
    for (const [path, content] of Object.entries(entries)) {
      const full = join(root, path);
      if (content === null) {
        rmSync(full, { force: true });
        continue;
      }
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(
        full,
        typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`,
      );
    }
  };
  const commit = (message: string) => {
    minute++;
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  git('init', '-q', '-b', 'main');
  write(files);
  return {
    root,
    write,
    commit,
    git,
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The front matter and summary of a changeset naming `releases`. */
export const changeset = (releases: Record<string, string>, summary = 'A change.') =>
  `---\n${Object.entries(releases)
    .map(([name, bump]) => `"${name}": ${bump}`)
    .join('\n')}\n---\n\n${summary}\n`;
