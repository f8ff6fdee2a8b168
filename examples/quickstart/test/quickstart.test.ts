import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { summarise } from '../src/main.mjs';

const sample = fileURLToPath(new URL('../data/rollouts.jsonl', import.meta.url));
const main = fileURLToPath(new URL('../src/main.mjs', import.meta.url));

/** Runs the example as a user would, on the workspace's source (tsx + the source condition). */
function run(...args: string[]) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@hicra/source', main, ...args],
    {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    },
  );
}

describe('quickstart', () => {
  it('summarises the sample rollouts', () => {
    const summary = summarise(readFileSync(sample, 'utf8'));
    expect(summary).toMatchObject({
      responses: 6,
      paddedLength: 21,
      unscorableDropped: 1,
      groupsWithSignal: 1,
    });
    expect(summary.groups.map((g) => [g.group, g.rewardMean])).toEqual([
      ['countdown-1', 0.5],
      ['countdown-2', 1],
    ]);
  });

  it('runs end to end from the command line', () => {
    const result = run(sample, '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).responses).toBe(6);
  });

  it('reports a malformed line with its line number and exits 1', () => {
    const broken = `${readFileSync(sample, 'utf8').split('\n')[0]}\n{"schema": "hicra.rollout.v1", "groupId": 1}\n`;
    expect(() => summarise(broken, 'x.jsonl')).toThrow(/x\.jsonl line 2/);
    const result = run('/no/such/file.jsonl');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ENOENT');
  });

  it('prints usage and exits 2 without arguments', () => {
    const result = run();
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: hicra-quickstart');
  });
});
