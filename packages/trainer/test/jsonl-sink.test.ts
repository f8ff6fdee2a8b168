import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlSink, readJsonl, truncateJsonlAfterStep } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hicra-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('JsonlSink', () => {
  it('appends one record per line, dropping non-finite numbers', () => {
    const path = join(dir, 'a/metrics.jsonl');
    const sink = new JsonlSink(path);
    sink.write({
      kind: 'train',
      step: 1,
      time: 't',
      'reward/mean': 0.5,
      'perplexity/planning': Number.NaN,
    });
    sink.flush();
    sink.write({ kind: 'train', step: 2, time: 't', 'reward/mean': 0.75 });
    sink.close();
    expect(readJsonl(path)).toEqual([
      { kind: 'train', step: 1, time: 't', 'reward/mean': 0.5 },
      { kind: 'train', step: 2, time: 't', 'reward/mean': 0.75 },
    ]);
    expect(() => sink.write({ step: 3 })).toThrow(/write after close/);
    // reopening appends, never truncates
    const again = new JsonlSink(path);
    again.write({ kind: 'train', step: 3, time: 't' });
    again.close();
    expect(readJsonl(path)).toHaveLength(3);
  });

  it('tolerates a torn last line but reports corruption elsewhere with its line number', () => {
    const path = join(dir, 'torn.jsonl');
    writeFileSync(path, '{"step":1}\n{"step":2}\n{"ste');
    expect(readJsonl(path)).toEqual([{ step: 1 }, { step: 2 }]);
    writeFileSync(path, '{"step":1}\nnot json\n{"step":3}\n');
    expect(() => readJsonl(path)).toThrow(/torn\.jsonl line 2: not valid JSON/);
    expect(readJsonl(join(dir, 'missing.jsonl'))).toEqual([]);
  });

  it('moves records after a resume step aside without losing them', () => {
    const path = join(dir, 'resume.jsonl');
    writeFileSync(path, `${[1, 2, 3, 4].map((step) => JSON.stringify({ step })).join('\n')}\n`);
    expect(truncateJsonlAfterStep(path, 2)).toBe(2);
    expect(readJsonl(path)).toEqual([{ step: 1 }, { step: 2 }]);
    expect(
      readFileSync(`${path}.discarded`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).step),
    ).toEqual([3, 4]);
    appendFileSync(path, '');
    expect(truncateJsonlAfterStep(path, 5)).toBe(0);
  });
});
