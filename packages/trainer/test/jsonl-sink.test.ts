import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptFileError } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlSink, readJsonl, repairJsonl, truncateJsonlAfterStep } from '../src/index.js';

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

  it('repairs a torn last line: the fragment moves to .discarded, the next append is a line of its own', () => {
    const path = join(dir, 'torn-repair', 'metrics.jsonl');
    const sink = new JsonlSink(path);
    sink.write({ kind: 'train', step: 1 });
    sink.close();
    appendFileSync(path, '{"kind":"train","st'); // the process died mid-write
    expect(repairJsonl(path)).toEqual({ discarded: 0, tornLine: true });
    expect(readFileSync(path, 'utf8')).toBe('{"kind":"train","step":1}\n');
    expect(readFileSync(`${path}.discarded`, 'utf8')).toBe(
      `${JSON.stringify({ tornLine: '{"kind":"train","st' })}\n`,
    );
    const again = new JsonlSink(path);
    again.write({ kind: 'train', step: 2 });
    again.close();
    expect(readFileSync(path, 'utf8').split('\n')).toEqual([
      '{"kind":"train","step":1}',
      '{"kind":"train","step":2}',
      '',
    ]);
    // The rewrite went through a temporary file that is gone.
    expect(readdirSync(join(dir, 'torn-repair')).sort()).toEqual([
      'metrics.jsonl',
      'metrics.jsonl.discarded',
    ]);
    // A consistent file is left alone.
    expect(repairJsonl(path)).toEqual({ discarded: 0, tornLine: false });
    expect(repairJsonl(join(dir, 'torn-repair', 'absent.jsonl'))).toEqual({
      discarded: 0,
      tornLine: false,
    });
  });

  it('keeps a complete last record that lost its newline, and trims to a step in the same pass', () => {
    const path = join(dir, 'no-newline.jsonl');
    writeFileSync(path, '{"step":0}\n{"step":1}\n{"step":2}');
    expect(repairJsonl(path, { keepThroughStep: 1 })).toEqual({ discarded: 1, tornLine: false });
    expect(readFileSync(path, 'utf8')).toBe('{"step":0}\n{"step":1}\n');
    expect(readFileSync(`${path}.discarded`, 'utf8')).toBe('{"step":2}\n');
    writeFileSync(path, '{"step":0}\n{"step":1}');
    expect(repairJsonl(path)).toEqual({ discarded: 0, tornLine: false });
    expect(readFileSync(path, 'utf8')).toBe('{"step":0}\n{"step":1}\n');
  });

  it('keepThroughStep -1 moves every record aside, after a torn .discarded line of its own', () => {
    const path = join(dir, 'all.jsonl');
    writeFileSync(path, '{"step":0,"kind":"eval"}\n{"step":1}\n{"kind":"x"}\n');
    writeFileSync(`${path}.discarded`, '{"step":9}\n{"ste'); // itself torn by an earlier crash
    expect(repairJsonl(path, { keepThroughStep: -1 })).toEqual({ discarded: 3, tornLine: false });
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(readFileSync(`${path}.discarded`, 'utf8')).toBe(
      '{"step":9}\n{"ste\n{"step":0,"kind":"eval"}\n{"step":1}\n{"kind":"x"}\n',
    );
  });

  it('refuses to repair corruption before the last line, leaving the file as it was', () => {
    const path = join(dir, 'middle.jsonl');
    const content = '{"step":1}\n{"ste{"step":2}\n{"step":3}\n';
    writeFileSync(path, content);
    expect(() => repairJsonl(path, { keepThroughStep: 0 })).toThrow(
      /middle\.jsonl line 2: not valid JSON/,
    );
    const error = expectHicraError(() => repairJsonl(path), { errorClass: CorruptFileError });
    expect(error.details).toEqual({ path, line: 2 });
    expect(readFileSync(path, 'utf8')).toBe(content);
    expect(existsSync(`${path}.discarded`)).toBe(false);
  });
});
