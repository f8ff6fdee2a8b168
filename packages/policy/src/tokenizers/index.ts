/**
 * Tokenizers implementing `TokenizerV1` of `@hicra/spec`: a word-level tokenizer for the
 * built-in tasks and Hugging Face `tokenizer.json` files through the `tokenizers` binding.
 */
export {
  HuggingFaceTokenizer,
  type HuggingFaceTokenizerOptions,
  loadHuggingFaceTokenizer,
} from './hugging-face-tokenizer.js';
export {
  createWordTokenizer,
  normalizeWords,
  type UnknownWordPolicy,
  WORD_SPECIAL_TOKENS,
  WORD_TOKENIZER_SCHEMA,
  type WordCorpusOptions,
  WordTokenizer,
  type WordTokenizerJSON,
  type WordTokenizerOptions,
  type WordTokenizerSettings,
} from './word-tokenizer.js';
