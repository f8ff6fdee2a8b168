#!/usr/bin/env node
// Smoke test of the *built* package, as a consumer sees it (run by `pnpm check:exports` after a
// build): the shipped paper lexicon loads, and the default classifier marks the tokens of a
// planning phrase through the automaton.
import { paperLexicon, strategicGrams } from '@hicra/planning';

const text = 'Wait, that’s not right. Let me verify: 3 * 8 = 24.';
const words = [...text.matchAll(/\S+/g)];
const spans = Int32Array.from(words.flatMap((m) => [m.index, m.index + m[0].length]));
const result = strategicGrams.classify({
  batchSize: 1,
  seqLen: words.length,
  texts: [text],
  tokenSpans: spans,
});
const fail = (message) => {
  console.error(`@hicra/planning smoke test: ${message}`);
  process.exit(1);
};
if (paperLexicon.grams.length !== 249)
  fail(`paper lexicon has ${paperLexicon.grams.length} phrases, expected 249`);
const mask = Array.from(result.mask).join('');
if (mask !== '111111100000') fail(`mask ${mask} != 111111100000`);
const grams = result.matches[0].map((m) => m.gram).join(' | ');
if (grams !== "wait, that's not right | let me verify") fail(`matches ${grams}`);
console.log('@hicra/planning: built package classifies with the shipped paper lexicon');
