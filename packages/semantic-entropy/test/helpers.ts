import type { PlanningMatchV1 } from '@hicra/spec';
import fc from 'fast-check';

/** The `source` of every error this package raises. */
export const SOURCE = '@hicra/semantic-entropy';

/** A piece of a synthetic response: a lexicon phrase (by index) or an execution word. */
export type Piece = { readonly gram: number } | { readonly word: string };

export const LEXICON = ['wait', 'let me check', 'alternatively', 'we can use the fact that'];
export const WORDS = ['3', '*', '8', '=', '24', 'so', 'x', '+', 'then', '.'];

/** Builds a response text from pieces joined by spaces, with the matches of its phrases. */
export function buildResponse(pieces: readonly Piece[]): {
  text: string;
  matches: PlanningMatchV1[];
} {
  let text = '';
  const matches: PlanningMatchV1[] = [];
  for (const piece of pieces) {
    if (text !== '') text += ' ';
    if ('gram' in piece) {
      const gram = LEXICON[piece.gram]!;
      matches.push({
        start: text.length,
        end: text.length + gram.length,
        gram,
        gramId: piece.gram,
      });
      text += gram;
    } else text += piece.word;
  }
  return { text, matches };
}

/** fast-check: one response as pieces. */
export const pieceArbitrary: fc.Arbitrary<Piece> = fc.oneof(
  fc.integer({ min: 0, max: LEXICON.length - 1 }).map((gram) => ({ gram })),
  fc.constantFrom(...WORDS).map((word) => ({ word })),
);

/** fast-check: a batch of 0..12 responses of 0..10 pieces each. */
export const batchArbitrary = fc.array(fc.array(pieceArbitrary, { maxLength: 10 }), {
  maxLength: 12,
});

/** Texts and matches of a batch of piece lists. */
export function buildBatch(batch: readonly (readonly Piece[])[]): {
  texts: string[];
  matches: PlanningMatchV1[][];
} {
  const built = batch.map(buildResponse);
  return { texts: built.map((b) => b.text), matches: built.map((b) => b.matches) };
}

/** `gram -> classId` for {@link LEXICON}: 'wait' and 'let me check' share class 0. */
export const CLASS_OF: Readonly<Record<string, number>> = {
  wait: 0,
  'let me check': 0,
  alternatively: 1,
  'we can use the fact that': 2,
};
