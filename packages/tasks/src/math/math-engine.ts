import { createRequire } from 'node:module';

/** The part of a mathjs expression node this package reads. */
export interface MathNode {
  readonly type: string;
  readonly value?: unknown;
  readonly name?: string;
  readonly op?: string;
  readonly fn?: MathNode | string;
  readonly args?: readonly MathNode[];
  readonly content?: MathNode;
  compile(): { evaluate(scope?: Record<string, number>): unknown };
}

interface MathModule {
  create(factories: unknown): { parse(expression: string): MathNode };
  all: unknown;
}

let engine: { parse(expression: string): MathNode } | undefined;

/**
 * The mathjs parser (its numbers-only build), loaded on first use rather than on import:
 * loading mathjs takes a noticeable fraction of a second, which users of the Countdown task
 * alone should not pay. Call it outside any time limit.
 */
export function mathEngine(): { parse(expression: string): MathNode } {
  if (engine === undefined) {
    const require = createRequire(import.meta.url);
    const mathjs = require('mathjs/number') as MathModule;
    engine = mathjs.create(mathjs.all);
  }
  return engine;
}

/** Drops the engine instance (after an interrupted computation), so the next use gets a fresh one. */
export function resetMathEngine(): void {
  if (engine === undefined) return;
  const require = createRequire(import.meta.url);
  const mathjs = require('mathjs/number') as MathModule;
  engine = mathjs.create(mathjs.all);
}
