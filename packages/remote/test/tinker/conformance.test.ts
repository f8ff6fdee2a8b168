import { runEngineConformance } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { BigramEngine } from './fakes.js';
import { loopback } from './helpers.js';

function failures(report: {
  checks: readonly { name: string; passed: boolean; message: string }[];
}) {
  return report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.message}`);
}

describe('engine conformance', () => {
  it('the bigram test engine passes in process (the fake itself is sound)', async () => {
    const report = await runEngineConformance(async () => ({
      training: new BigramEngine(),
      dispose: () => undefined,
    }));
    expect(failures(report)).toEqual([]);
  });

  it('TinkerTrainingClient -> createTinkerServer -> the bigram engine passes over loopback', async () => {
    const report = await runEngineConformance(async () => {
      const link = await loopback(new BigramEngine());
      return { training: link.client, dispose: () => link.close() };
    });
    expect(failures(report)).toEqual([]);
    expect(report.checks).toHaveLength(9);
  }, 30_000);

  it('the same, with the server posing as a plain Tinker server (built-in capabilities, no extension)', async () => {
    const report = await runEngineConformance(async () => {
      const link = await loopback(new BigramEngine(), {
        server: { advertiseCapabilities: false },
        client: { vocabSize: 12 },
      });
      return { training: link.client, dispose: () => link.close() };
    });
    expect(failures(report)).toEqual([]);
    expect(report.checks.find((c) => c.name === 'forward-outputs')?.message).not.toMatch(
      /entropies/,
    );
  }, 30_000);
});
