import { type Context, createContext, Script } from 'node:vm';
import { InvalidValueError } from '@hicra/spec';
import { SOURCE } from '../settings.js';

export type TimeLimitedResult<T> =
  | { readonly completed: true; readonly value: T }
  | { readonly completed: false; readonly timeLimitMs: number };

let context: (Context & { task?: () => unknown }) | undefined;
let script: Script | undefined;

/**
 * Runs a synchronous function and interrupts it if it runs longer than `timeLimitMs`.
 *
 * The function is called from a `node:vm` script run with the `timeout` option: V8's watchdog
 * thread terminates the JavaScript running on this thread when the limit passes, wherever it
 * is (inside mathjs included), and the call returns `{ completed: false }`. No worker, no
 * process: the cost is one watchdog thread per call (about 0.15 ms). Errors thrown by `fn` propagate unchanged.
 * It cannot interrupt native code that never returns to JavaScript (none is used here).
 */
export function runWithTimeLimit<T>(fn: () => T, timeLimitMs: number): TimeLimitedResult<T> {
  if (!Number.isInteger(timeLimitMs) || timeLimitMs < 1) {
    throw new InvalidValueError(
      `runWithTimeLimit: timeLimitMs must be a positive integer, got ${timeLimitMs}`,
      {
        source: SOURCE,
        details: { argument: 'timeLimitMs', value: timeLimitMs },
      },
    );
  }
  context ??= createContext({});
  script ??= new Script('task()');
  context.task = fn;
  try {
    return {
      completed: true,
      value: script.runInContext(context, { timeout: timeLimitMs }) as T,
    };
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      return { completed: false, timeLimitMs };
    }
    throw error;
  } finally {
    context.task = undefined;
  }
}
