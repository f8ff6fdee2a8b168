/**
 * `--plugin FILE`: third-party credit strategies for the command line. A plug-in file is an ES
 * module whose default export, or named exports, are registrations of `@hicra/spec`
 * (`EstimatorRegistrationV1`, `CreditAssignerRegistrationV1`): `{ kind, name, description,
 * settings, create }`. They are added to a registry of the built-ins, which `train`, `compare`
 * and `annotate` then build their credit pipelines from, so a config's `credit` can name them.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreditRegistry } from '@hicra/advantage';
import {
  type CreditAssignerRegistrationV1,
  type EstimatorRegistrationV1,
  formatValue,
  HicraError,
} from '@hicra/spec';

type CreditRegistration = EstimatorRegistrationV1 | CreditAssignerRegistrationV1;

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
 * A registry of the built-ins plus the registrations of each plug-in file, in order. Errors
 * (a missing file, a module that does not load or exports no registration, a kind other than
 * estimator or assigner, a name already taken) are `PluginError`s naming the file.
 */
export async function registryWithPlugins(files: readonly string[] = []): Promise<{
  registry: CreditRegistry;
  /** Each file, resolved, with the names it registered. */
  loaded: { file: string; names: string[] }[];
}> {
  const registry = new CreditRegistry();
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
      if (registration.kind !== 'estimator' && registration.kind !== 'assigner')
        throw new PluginError(
          `--plugin ${given}: ${formatValue(registration.name)} is a plug-in of kind ${formatValue(registration.kind)}; --plugin takes estimators and assigners (classifier and reward plug-ins are not supported from the command line yet)`,
        );
      try {
        registry.register(registration as CreditRegistration);
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
  return { registry, loaded };
}
