import { EXIT } from './errors.js';

/**
 * The app's signal handling (libraries install none): the first SIGINT or SIGTERM aborts the
 * returned signal, so a run finishes its current step, writes a checkpoint and returns
 * `interrupted`; a second one runs the registered cleanups (releasing run-directory locks) and
 * exits with 130 at once. Call `dispose()` when the work is over.
 */
export function interruptOnSignals(onFirstSignal?: (signal: NodeJS.Signals) => void): {
  readonly signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      runCleanups();
      process.exit(EXIT.interrupted);
    }
    onFirstSignal?.(signal);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const cleanups = new Set<() => void>();

/**
 * Registers a synchronous cleanup (a lock release) to run if the process is made to exit
 * before the work ends; returns the function that unregisters it.
 */
export function onForcedExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function runCleanups(): void {
  for (const cleanup of [...cleanups]) {
    try {
      cleanup();
    } catch {
      // Exiting anyway: a cleanup that fails must not keep the others from running.
    }
  }
  cleanups.clear();
}
