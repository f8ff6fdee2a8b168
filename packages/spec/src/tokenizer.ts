/** The result of encoding one text. */
export interface EncodingV1 {
  /** `[n]` int32 token ids. */
  readonly ids: Int32Array;
  /** `[n·2]` int32 `[start, end)` character offsets of each token into the encoded text; `(-1, -1)` for added special tokens. */
  readonly spans: Int32Array;
}

/** Ids of the special tokens a tokenizer defines; absent when it has none of that kind. */
export interface SpecialTokensV1 {
  readonly bos?: number;
  readonly eos?: number;
  readonly pad?: number;
  readonly unk?: number;
}

/** Text <-> token ids with character spans. */
export interface TokenizerV1 {
  /** Number of ids; every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokensV1;
  /** Encodes a text. `addSpecialTokens` (default false) adds the tokenizer's BOS/EOS markers. */
  encode(text: string, options?: { readonly addSpecialTokens?: boolean }): EncodingV1;
  /** Decodes ids to text. `skipSpecialTokens` defaults to true. */
  decode(ids: ArrayLike<number>, options?: { readonly skipSpecialTokens?: boolean }): string;
}
