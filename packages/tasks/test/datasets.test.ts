import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadMathDataset, type MathProblem, readJsonLines, toJsonLines } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hicra-tasks-'));

async function collect<T>(reader: AsyncIterable<{ line: number; value: T }>) {
  const out: { line: number; value: T }[] = [];
  for await (const record of reader) out.push(record);
  return out;
}

describe('readJsonLines', () => {
  it('streams a file, numbering lines from 1 and skipping blank ones', async () => {
    const path = join(dir, 'plain.jsonl');
    writeFileSync(path, '{"a":1}\n\n{"a":2}\r\n  \n[3]\n');
    const reader = readJsonLines(path);
    expect(await collect(reader)).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { a: 2 } },
      { line: 5, value: [3] },
    ]);
    expect(reader.report).toEqual({ lines: 5, records: 3, blank: 2, badLines: [] });
    expect(await collect(readJsonLines(pathToFileURL(path)))).toHaveLength(3);
  });

  it('reports bad lines with their numbers and reasons and goes on (skip)', async () => {
    const reader = readJsonLines(['{"ok":1}\n{broken\n{"ok":2}\n"x"\nnot json at all\n{"ok":3}']);
    const records = await collect(reader);
    expect(records.map((r) => r.line)).toEqual([1, 3, 4, 6]);
    expect(reader.report.badLines.map((b) => b.line)).toEqual([2, 5]);
    expect(reader.report.badLines[0]!.reason).toMatch(/^not valid JSON/);
    expect(reader.report.badLines[1]!.excerpt).toBe('not json at all');
  });

  it('stops at the first bad line with a CorruptFileError naming the source and line (throw)', async () => {
    const error = await expectHicraRejection(
      collect(
        readJsonLines(['{"ok":1}\n{"ok":2}\n{oops\n{"ok":4}\n'], {
          onBadLine: 'throw',
          sourceName: 'train.jsonl',
        }),
      ),
    );
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain('train.jsonl: line 3: not valid JSON');
    expect(error.details).toMatchObject({ file: 'train.jsonl', line: 3 });
  });

  it('handles a BOM, a last line without newline, and chunks that split lines and characters (property)', async () => {
    const records = [{ text: 'héllo \u{1F600}' }, { n: 1 }, { s: 'a\nb' }, { t: '终' }];
    const bytes = new TextEncoder().encode(`\uFEFF${toJsonLines(records).trimEnd()}`);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
        async (cuts) => {
          const bounds = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
          const chunks = bounds.slice(1).map((end, i) => bytes.slice(bounds[i], end));
          const read = await collect(readJsonLines(Readable.from(chunks)));
          expect(read.map((r) => r.value)).toEqual(records);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('treats a line over maxLineLength as bad without keeping it whole', async () => {
    const long = JSON.stringify({ x: 'y'.repeat(500) });
    const reader = readJsonLines(
      [`{"a":1}\n${long.slice(0, 100)}`, `${long.slice(100)}\n{"a":2}\n`],
      { maxLineLength: 200 },
    );
    expect((await collect(reader)).map((r) => r.line)).toEqual([1, 3]);
    expect(reader.report.badLines).toEqual([
      { line: 2, reason: 'line longer than 200 characters', excerpt: long.slice(0, 200) },
    ]);
  });

  it('a missing file is a CorruptFileError', async () => {
    const error = await expectHicraRejection(collect(readJsonLines(join(dir, 'missing.jsonl'))));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain('missing.jsonl: cannot read the file (ENOENT)');
  });

  it('rejects bad options and sources', () => {
    expect(() => readJsonLines(42 as never)).toThrow(
      /source must be a path, a URL or an \(async\) iterable/,
    );
    expect(() => readJsonLines([], { onBadLine: 'warn' as never })).toThrow(
      /onBadLine must be one of "skip", "throw"/,
    );
    expect(() => readJsonLines([], { maxLineLength: 0 })).toThrow(/maxLineLength must be >= 1/);
    expect(() => readJsonLines([], { fields: {} } as never)).toThrow(
      /config key options.fields: readJsonLines: unknown setting/,
    );
  });
});

describe('loadMathDataset', () => {
  it('reads problems and answers with the default field names', async () => {
    const lines = toJsonLines([
      { problem: 'What is 2+2?', answer: '4' },
      { problem: 'Half of one?', answer: 0.5 },
    ]);
    const values = (await collect(loadMathDataset([lines]))).map((r) => r.value);
    expect(values).toEqual<MathProblem[]>([
      { id: '1', problem: 'What is 2+2?', answer: '4' },
      { id: '2', problem: 'Half of one?', answer: '0.5' },
    ]);
  });

  it('takes configurable and nested field names, and GSM8K and MATH answer formats', async () => {
    const gsm8k = toJsonLines([
      { question: 'Q1', solution: { text: 'work\n#### 1,234' }, uid: 17 },
    ]);
    const [record] = await collect(
      loadMathDataset([gsm8k], {
        fields: { problem: 'question', answer: 'solution.text', id: 'uid' },
        answerFormat: 'gsm8k',
      }),
    );
    expect(record).toEqual({ line: 1, value: { id: '17', problem: 'Q1', answer: '1,234' } });
    const math = toJsonLines([{ problem: 'P', solution: 'so $\\boxed{\\frac{1}{2}}$.' }]);
    const [boxed] = await collect(
      loadMathDataset([math], { fields: { answer: 'solution' }, answerFormat: 'boxed' }),
    );
    expect(boxed!.value.answer).toBe('\\frac{1}{2}');
  });

  it('reports records without the fields as bad lines with their numbers', async () => {
    const lines = [
      JSON.stringify({ problem: 'ok', answer: '1' }),
      JSON.stringify({ problem: '', answer: '1' }),
      JSON.stringify({ problem: 'no answer' }),
      JSON.stringify(['not', 'an', 'object']),
      JSON.stringify({ problem: 'bad box', answer: 'no box here' }),
    ].join('\n');
    const reader = loadMathDataset([lines]);
    expect((await collect(reader)).map((r) => r.line)).toEqual([1, 5]);
    expect(reader.report.badLines.map((b) => `${b.line}: ${b.reason}`)).toEqual([
      '2: field "problem" must be a non-empty string, got ""',
      '3: field "answer" must be a non-empty string or a number, got undefined',
      '4: expected a JSON object, got an array',
    ]);
    const boxed = loadMathDataset([lines], { answerFormat: 'boxed', onBadLine: 'throw' });
    const error = await expectHicraRejection(collect(boxed));
    expect(error.message).toContain('input: line 1: field "answer": no final answer');
  });

  it('rejects bad field settings', () => {
    expect(() => loadMathDataset([], { fields: { question: 'q' } as never })).toThrow(
      /options.fields.question is not a field/,
    );
    expect(() => loadMathDataset([], { fields: { answer: 'a..b' } })).toThrow(
      /options.fields.answer must be a field name or dotted path/,
    );
    expect(() => loadMathDataset([], { answerFormat: 'latex' as never })).toThrow(
      /answerFormat must be one of/,
    );
  });
});
