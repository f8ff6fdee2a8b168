import { describeValue, InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { SOURCE } from './check.js';

/**
 * `gram -> classId`: the strategy class (cluster) of each planning phrase, as the miner's
 * lexicon provides it. A `Map` or a plain record; class ids are integers.
 */
export type GramClassMap = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** A validated `Map` copy of a {@link GramClassMap}. */
export function toClassMap(classOf: unknown, where: string): ReadonlyMap<string, number> {
  let entries: Iterable<[unknown, unknown]>;
  if (classOf instanceof Map) entries = classOf.entries();
  else if (typeof classOf === 'object' && classOf !== null && !Array.isArray(classOf))
    entries = Object.entries(classOf);
  else {
    throw new InvalidArgumentError(
      `${where}: classOf must be a Map or a record from gram to class id, got ${describeValue(classOf)}`,
      { source: SOURCE, details: { where, argument: 'classOf' } },
    );
  }
  const map = new Map<string, number>();
  for (const [gram, classId] of entries) {
    if (typeof gram !== 'string') {
      throw new InvalidArgumentError(
        `${where}: classOf keys must be grams (strings), got ${describeValue(gram)}`,
        { source: SOURCE, details: { where, argument: 'classOf' } },
      );
    }
    if (!Number.isSafeInteger(classId)) {
      throw new InvalidValueError(
        `${where}: classOf[${JSON.stringify(gram)}] must be an integer class id, got ${String(classId)}`,
        { source: SOURCE, details: { where, argument: 'classOf', gram } },
      );
    }
    map.set(gram, classId as number);
  }
  return map;
}
