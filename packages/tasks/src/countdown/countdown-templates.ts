import templates from '../../data/countdown-templates.json' with { type: 'json' };

/**
 * The planning phrases of Countdown traces, by role. Every phrase is copied verbatim from the
 * paper's Strategic-Gram lexicon (a test checks this against the copy in `data/`); this package
 * does not depend on `@hicra/planning`.
 */
export interface CountdownTemplates {
  /** Opens the first approach, before its first step (`what if we try 3 * 8 = 24`). */
  readonly open: readonly string[];
  /** Before each later step of an approach (`next 24 - 2 = 22`). */
  readonly continue: readonly string[];
  /** On its own line after a dead end (`that can't be right`). */
  readonly deadEnd: readonly string[];
  /** Opens the approach tried after a dead end (`alternatively 3 * 8 = 24`). */
  readonly retry: readonly string[];
}

export const COUNTDOWN_TEMPLATES: CountdownTemplates = {
  open: templates.open,
  continue: templates.continue,
  deadEnd: templates.deadEnd,
  retry: templates.retry,
};

/** Every planning phrase a Countdown trace can contain, each once, sorted. */
export const COUNTDOWN_PLANNING_PHRASES: readonly string[] = [
  ...new Set([
    ...COUNTDOWN_TEMPLATES.open,
    ...COUNTDOWN_TEMPLATES.continue,
    ...COUNTDOWN_TEMPLATES.deadEnd,
    ...COUNTDOWN_TEMPLATES.retry,
  ]),
].sort();
