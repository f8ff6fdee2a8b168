/**
 * What a Tinker server can do, as `EngineCapabilitiesV1`: Tinker's built-ins by default, or
 * what a server advertises in the hicra extension field `hicra_capabilities`.
 */
import {
  type EngineCapabilitiesV1,
  type EngineInfoV1,
  LOSS_NAMES,
  type LossNameV1,
  TINKER_LOSS_NAMES,
} from '@hicra/spec';
import {
  contractLossName,
  HICRA_CAPABILITIES_VERSION,
  LOSS_CONFIG_KEYS,
  TINKER_PATHS,
  type WireHicraCapabilities,
  wireLossName,
} from './wire.js';

/**
 * Tinker's built-in capabilities: its five losses (token sums), no entropies in forward
 * outputs, no KL term, no entropy bonus, forward passes at temperature 1 only.
 */
export const TINKER_BUILTIN_CAPABILITIES: EngineCapabilitiesV1 = Object.freeze({
  entropies: false,
  klTerm: false,
  entropyBonus: false,
  temperature: false,
  losses: TINKER_LOSS_NAMES,
});

/** What a client knows about a server's extensions, beyond `EngineCapabilitiesV1`. */
export interface TinkerServerFeatures {
  readonly capabilities: EngineCapabilitiesV1;
  /** True when the server advertised `hicra_capabilities` (a hicra server). */
  readonly hicra: boolean;
  /** The `loss_fn_config` keys it reads. */
  readonly lossConfigKeys: ReadonlySet<string>;
  /** Whether it serves `hicra_release_sampling_session`. */
  readonly releaseSamplingSession: boolean;
  readonly vocabSize?: number;
  readonly contextLength?: number;
}

/** The features of a plain Tinker server. */
export const TINKER_BUILTIN_FEATURES: TinkerServerFeatures = Object.freeze({
  capabilities: TINKER_BUILTIN_CAPABILITIES,
  hicra: false,
  lossConfigKeys: new Set(['clip_low_threshold', 'clip_high_threshold', 'beta']),
  releaseSamplingSession: false,
});

/**
 * Reads a `hicra_capabilities` object; `undefined` when absent or unusable (another version,
 * missing fields), so the client falls back to Tinker's built-ins.
 */
export function readHicraCapabilities(value: unknown): TinkerServerFeatures | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<WireHicraCapabilities>;
  if (v.version !== HICRA_CAPABILITIES_VERSION) return undefined;
  const flags = [v.entropies, v.kl_term, v.entropy_bonus, v.temperature];
  if (!flags.every((f) => typeof f === 'boolean')) return undefined;
  if (!Array.isArray(v.losses)) return undefined;
  const known = new Set<string>(LOSS_NAMES);
  const losses = v.losses
    .filter((l): l is string => typeof l === 'string')
    .map(contractLossName)
    .filter((l): l is LossNameV1 => known.has(l));
  const vocab = v.vocab_size;
  const context = v.context_length;
  return {
    capabilities: {
      entropies: v.entropies!,
      klTerm: v.kl_term!,
      entropyBonus: v.entropy_bonus!,
      temperature: v.temperature!,
      losses,
    },
    hicra: true,
    lossConfigKeys: new Set(
      Array.isArray(v.loss_fn_config_keys)
        ? v.loss_fn_config_keys.filter((k) => typeof k === 'string')
        : TINKER_BUILTIN_FEATURES.lossConfigKeys,
    ),
    releaseSamplingSession:
      Array.isArray(v.endpoints) &&
      v.endpoints.includes(TINKER_PATHS.releaseSamplingSession.slice('/api/v1/'.length)),
    ...(Number.isInteger(vocab) && (vocab as number) > 0 ? { vocabSize: vocab as number } : {}),
    ...(Number.isInteger(context) && (context as number) > 0
      ? { contextLength: context as number }
      : {}),
  };
}

/** The `hicra_capabilities` a hicra server advertises for an engine. */
export function writeHicraCapabilities(info: EngineInfoV1): WireHicraCapabilities {
  const c = info.capabilities;
  return {
    version: HICRA_CAPABILITIES_VERSION,
    vocab_size: info.vocabSize,
    context_length: info.contextLength ?? null,
    entropies: c.entropies,
    kl_term: c.klTerm,
    entropy_bonus: c.entropyBonus,
    temperature: c.temperature,
    losses: c.losses.map(wireLossName),
    loss_fn_config_keys: Object.values(LOSS_CONFIG_KEYS),
    endpoints: [TINKER_PATHS.releaseSamplingSession.slice('/api/v1/'.length)],
  };
}
