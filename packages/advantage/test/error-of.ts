import { HicraError } from '@hicra/spec';

/** The HicraError `fn` throws; any other outcome fails the test. */
export function errorOf(fn: () => unknown): HicraError {
  try {
    fn();
  } catch (error) {
    if (HicraError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}
