import { describe, expect, it } from 'vitest';
import {
  assertEngineConformance,
  ENGINE_CONFORMANCE_CHECKS,
  type EngineConformanceCheckName,
  runEngineConformance,
} from '../src/testing/index.js';
import { FakeEngine, type FakeEngineFlaws } from './fake-engine.js';

function factory(flaws: FakeEngineFlaws = {}) {
  return async () => ({ training: new FakeEngine(flaws), dispose() {} });
}

async function failedChecks(flaws: FakeEngineFlaws): Promise<EngineConformanceCheckName[]> {
  const report = await runEngineConformance(factory(flaws));
  return report.checks.filter((c) => !c.passed).map((c) => c.name);
}

describe('runEngineConformance', () => {
  it('passes a correct engine, reporting every check with a message', async () => {
    const report = await runEngineConformance(factory());
    expect(report.checks.map((c) => c.name)).toEqual([...ENGINE_CONFORMANCE_CHECKS]);
    expect(report.checks.filter((c) => !c.passed)).toEqual([]);
    expect(report.passed).toBe(true);
    for (const check of report.checks) expect(check.message.length).toBeGreaterThan(0);
    await expect(assertEngineConformance(factory())).resolves.toMatchObject({ passed: true });
  });

  it.each<[keyof FakeEngineFlaws, EngineConformanceCheckName]>([
    ['overwriteGradient', 'gradient-accumulation'],
    ['meanGradient', 'gradient-accumulation'],
    ['stepWithoutGradient', 'optim-step-needs-gradient'],
    ['loadForgetsMoments', 'state-round-trip'],
    ['samplerIgnoresSeed', 'sampler-seed'],
    ['samplerSharesWeights', 'sampler-frozen'],
    ['samplerMisScores', 'forward-matches-sampler'],
    ['noValidation', 'rejects-bad-input'],
  ])('catches the flaw %s in %s', async (flaw, check) => {
    expect(await failedChecks({ [flaw]: true })).toContain(check);
  });

  it('assertEngineConformance lists every failure', async () => {
    const error = await assertEngineConformance(
      factory({ stepWithoutGradient: true, samplerIgnoresSeed: true }),
    ).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/^engine conformance: \d+ of 9 checks failed:\n/);
    expect(message).toContain(
      '\n- optim-step-needs-gradient: optimStep on a fresh engine: resolved',
    );
    expect(message).toContain('\n- sampler-seed: two samples with seed 1234 gave different tokens');
  });

  it('reports a factory that throws, and disposes every engine it made', async () => {
    let live = 0;
    const counting = async () => {
      live++;
      return {
        training: new FakeEngine(),
        dispose() {
          live--;
        },
      };
    };
    await runEngineConformance(counting);
    expect(live).toBe(0);
    const report = await runEngineConformance(async () => {
      throw new Error('no engine today');
    });
    expect(report.passed).toBe(false);
    expect(report.checks[0]).toMatchObject({ name: 'info', passed: false });
    expect(report.checks[0]!.message).toContain('no engine today');
    expect(report.checks.slice(1).every((c) => !c.passed)).toBe(true);
  });
});
