/**
 * `--plugin FILE`: third-party plug-ins for the command line. A plug-in file is an ES module
 * whose default export, or named exports, are registrations of `@hicra/spec` in its one shape
 * (`definePlugin({ kind, name, description, settings, create })`) of any kind: estimators and
 * assigners join the credit registry (a config's `credit` and `--estimator` can name them),
 * classifiers the planning-classifier registry (a config's `classifier`, annotate's
 * `--classifier`), rewards the reward registry (a config's `reward`, and the parts of a
 * `weighted` reward). Each registry starts with the built-ins.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreditRegistry } from '@hicra/advantage';
import { createPlanningClassifierRegistry, type PlanningClassifierRegistry } from '@hicra/planning';
import {
  type AnyPluginRegistrationV1,
  type ClassifierRegistrationV1,
  type CreditAssignerRegistrationV1,
  type EstimatorRegistrationV1,
  formatValue,
  HicraError,
  PLUGIN_KINDS,
  type RewardRegistrationV1,
} from '@hicra/spec';
import { createRewardRegistry, type RewardRegistry } from '@hicra/tasks';

/** The registries a command builds its plug-ins from: the built-ins plus `--plugin` files. */
export interface PluginRegistries {
  /** Estimators and credit assigners. */
  readonly registry: CreditRegistry;
  readonly classifiers: PlanningClassifierRegistry;
  readonly rewards: RewardRegistry;
}

/** A plug-in file that cannot be used: names the file and what is wrong. */
export class PluginError extends Error {
  override name = 'PluginError';
  /** True when the file is not there (an input error), false when it is not a plug-in. */
  readonly missing: boolean;
  constructor(message: string, missing = false) {
    super(message);
    this.missing = missing;
  }
}

function looksLikeRegistration(value: unknown): value is { kind: unknown; name: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'kind' in value &&
    'name' in value &&
    'create' in value
  );
}

/** The registrations a module exports: its default (one, or an array), then its named exports. */
function registrationsOf(module: Record<string, unknown>): unknown[] {
  const found: unknown[] = [];
  const add = (value: unknown) => {
    if (Array.isArray(value)) for (const item of value) add(item);
    else if (looksLikeRegistration(value) && !found.includes(value)) found.push(value);
  };
  add(module.default);
  for (const [key, value] of Object.entries(module)) if (key !== 'default') add(value);
  return found;
}

/**
 * Registries of the built-ins plus the registrations of each plug-in file, in order. Errors
 * (a missing file, a module that does not load or exports no registration, an unknown kind, a
 * malformed registration, a name already taken) are `PluginError`s naming the file.
 */
export async function registryWithPlugins(files: readonly string[] = []): Promise<
  PluginRegistries & {
    /** Each file, resolved, with the names it registered. */
    loaded: { file: string; names: string[] }[];
  }
> {
  const registry = new CreditRegistry();
  const classifiers = createPlanningClassifierRegistry();
  const rewards = createRewardRegistry();
  const register = (registration: AnyPluginRegistrationV1) => {
    switch (registration.kind) {
      case 'estimator':
      case 'assigner':
        registry.register(registration as EstimatorRegistrationV1 | CreditAssignerRegistrationV1);
        return;
      case 'classifier':
        classifiers.register(registration as ClassifierRegistrationV1);
        return;
      case 'reward':
        rewards.register(registration as RewardRegistrationV1);
        return;
    }
  };
  const loaded: { file: string; names: string[] }[] = [];
  for (const given of files) {
    const file = resolve(given);
    if (!existsSync(file) || statSync(file).isDirectory())
      throw new PluginError(
        `--plugin ${given}: no such file (an ES module, e.g. my-strategy.js)`,
        true,
      );
    let module: Record<string, unknown>;
    try {
      module = await import(pathToFileURL(file).href);
    } catch (error) {
      throw new PluginError(`--plugin ${given}: cannot load it (${(error as Error).message})`);
    }
    const registrations = registrationsOf(module);
    if (registrations.length === 0)
      throw new PluginError(
        `--plugin ${given}: exports no plug-in registration (an object with kind, name, description, settings and create, as its default export or a named one)`,
      );
    const names: string[] = [];
    for (const registration of registrations as { kind: unknown; name: unknown }[]) {
      if (!(PLUGIN_KINDS as readonly unknown[]).includes(registration.kind))
        throw new PluginError(
          `--plugin ${given}: ${formatValue(registration.name)} is a plug-in of kind ${formatValue(registration.kind)}; the kinds are ${PLUGIN_KINDS.join(', ')}`,
        );
      try {
        register(registration as AnyPluginRegistrationV1);
      } catch (error) {
        if (!HicraError.isInstance(error)) throw error;
        throw new PluginError(
          `--plugin ${given}: ${error.message.replace(/^@hicra\/\w+: (config: )?/, '')}`,
        );
      }
      names.push(registration.name as string);
    }
    loaded.push({ file, names });
  }
  return { registry, classifiers, rewards, loaded };
}
