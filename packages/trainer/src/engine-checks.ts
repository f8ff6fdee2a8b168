import type { CreditPipeline } from '@hicra/advantage';
import {
  ConfigError,
  type EngineInfoV1,
  type PlanningClassifierV1,
  type TokenizerV1,
} from '@hicra/spec';
import type { RlConfig } from './config.js';

const SOURCE = '@hicra/trainer';

/**
 * Checks a run's configuration against what its engine can do, before the first step: the
 * vocabulary, the loss, the temperature, a KL term or entropy bonus in the loss, and inputs the
 * credit pipeline or the planning classifier need (token entropies). Each mismatch is a
 * `ConfigError` naming the setting and the engine.
 */
export function checkEngineCapabilities(
  info: EngineInfoV1,
  config: RlConfig,
  parts: {
    readonly tokenizer: TokenizerV1;
    readonly credit: CreditPipeline;
    readonly classifier: PlanningClassifierV1;
  },
): void {
  const engine = `the engine (${info.modelName})`;
  const { capabilities } = info;
  if (parts.tokenizer.vocabSize !== info.vocabSize) {
    throw new ConfigError(
      'tokenizer',
      `the tokenizer has ${parts.tokenizer.vocabSize} ids but the policy's vocabulary (${engine}) is ${info.vocabSize}; they must agree`,
      { source: SOURCE },
    );
  }
  const { update, sampling } = config;
  if (!capabilities.losses.includes(update.loss)) {
    throw new ConfigError(
      'update.loss',
      `is "${update.loss}", which ${engine} does not offer; it offers ${capabilities.losses.join(', ')}`,
      { source: SOURCE },
    );
  }
  if (sampling.temperature !== 1 && !capabilities.temperature) {
    throw new ConfigError(
      'sampling.temperature',
      `is ${sampling.temperature}, but ${engine} scores at temperature 1 only, so the PPO ratio would compare different distributions; sample at temperature 1`,
      { source: SOURCE },
    );
  }
  if (update.klCoefficient > 0 && !update.klInReward && !capabilities.klTerm) {
    throw new ConfigError(
      'update.klCoefficient',
      `is ${update.klCoefficient} (a KL term in the loss), which ${engine} cannot add; set update.klInReward: true to put the KL penalty in the reward instead, or klCoefficient: 0`,
      { source: SOURCE },
    );
  }
  if (update.entropyCoefficient > 0 && !capabilities.entropyBonus) {
    throw new ConfigError(
      'update.entropyCoefficient',
      `is ${update.entropyCoefficient} (an entropy bonus), which ${engine} cannot add to its loss`,
      { source: SOURCE },
    );
  }
  if (!capabilities.entropies) {
    const needs = [
      ...(parts.credit.estimator.requires?.includes('entropies')
        ? [`estimator "${parts.credit.estimator.name}"`]
        : []),
      ...parts.credit.assigners
        .filter((assigner) => assigner.requires?.includes('entropies'))
        .map((assigner) => `assigner "${assigner.name}"`),
    ];
    if (needs.length > 0) {
      throw new ConfigError(
        'credit',
        `${needs.join(' and ')} ${needs.length === 1 ? 'needs' : 'need'} token entropies, which ${engine} cannot return`,
        { source: SOURCE },
      );
    }
    if (parts.classifier.requires?.includes('entropies')) {
      throw new ConfigError(
        'classifier',
        `planning classifier "${parts.classifier.name}" needs token entropies, which ${engine} cannot return`,
        { source: SOURCE },
      );
    }
  }
}
