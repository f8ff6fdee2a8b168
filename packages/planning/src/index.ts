/**
 * @hicra/planning: which tokens of a response are planning tokens.
 *
 * - `strategicGrams` / `createStrategicGramsClassifier`: the paper's Strategic-Gram classifier
 *   (one Aho–Corasick automaton over the normalised text; the paper's 249 phrases by default);
 * - `entropyForks`, `placeboNgrams`: the other classifiers of the paper's comparisons (the
 *   placebo: as many tokens as SG per response, in random SG-sized spans, new each step);
 * - `unionClassifiers`, `intersectClassifiers`: combinators;
 * - `createPlanningClassifier({ name, ...settings })` and `createPlanningClassifierRegistry()`;
 * - lexicons: `paperLexicon`, `parseLexicon`, `loadLexiconFile`, `serializeLexicon`;
 * - mining: `mineStrategicGrams`, `readCorpusFile`, `writeLexiconFile`, `hashedNgramEmbedder`.
 */

export {
  type CheckedPlanningInput,
  checkPlanningInput,
} from './check-planning-input.js';
export { agglomerativeCosine, type Clustering, kMeansPlusPlus } from './cluster-embeddings.js';
export {
  type CombinedClassifier,
  intersectClassifiers,
  unionClassifiers,
} from './combine-classifiers.js';
export {
  createEntropyForksClassifier,
  type EntropyForksClassifier,
  type EntropyForksSettings,
  entropyForks,
  entropyForksRegistration,
  entropyForksSettings,
} from './entropy-forks-classifier.js';
export {
  createHashedNgramEmbedder,
  type HashedNgramEmbedder,
  type HashedNgramEmbedderSettings,
  hashedNgramEmbedder,
} from './hashed-ngram-embedder.js';
export {
  LEXICON_SCHEMA,
  type LexiconGramV1,
  type LexiconInput,
  type LexiconV1,
  loadLexiconFile,
  normalizePhrase,
  paperLexicon,
  parseLexicon,
  resolveLexicon,
  serializeLexicon,
} from './lexicon.js';
export {
  documentNgrams,
  type MinedCluster,
  type MineStrategicGramsSettings,
  type MiningResult,
  mineStrategicGrams,
  type ReadCorpusOptions,
  readCorpusFile,
  writeLexiconFile,
} from './mine-strategic-grams.js';
export { type NormalizedText, normalizeText } from './normalize-text.js';
export {
  createPlaceboNgramsClassifier,
  type PlaceboNgramsClassifier,
  type PlaceboNgramsSettings,
  placeboNgrams,
  placeboNgramsRegistration,
  placeboNgramsSettings,
} from './placebo-ngrams-classifier.js';
export {
  type BuiltinPlanningClassifierConfig,
  builtinClassifiers,
  createPlanningClassifier,
  createPlanningClassifierRegistry,
  type PlanningClassifierConfig,
  type PlanningClassifierFactory,
  type PlanningClassifierRegistry,
  planningClassifierRegistry,
} from './planning-classifier-registry.js';
export { ENGLISH_STOP_WORDS } from './stop-words.js';
export {
  createStrategicGramsClassifier,
  type PhraseOccurrence,
  type StrategicGramsClassifier,
  type StrategicGramsSettings,
  strategicGrams,
  strategicGramsRegistration,
  strategicGramsSettings,
} from './strategic-grams-classifier.js';
export { wordSpans } from './word-spans.js';
