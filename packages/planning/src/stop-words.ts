/**
 * English stop words used by the miner to drop n-grams made only of them ("of the", "it is a").
 * Articles, pronouns, auxiliaries, prepositions, conjunctions and a few fillers; words that
 * carry planning meaning on their own ("but", "so", "then", "wait", "now") are not in it.
 */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set(
  `a an the this that these those it its it's i me my we us our you your he him his she her
  they them their there here what which who whom whose
  is are was were be been being am do does did done have has had having will would shall
  should can could may might must
  of in on at to for from by with about as into onto over under than of off up down out
  and or nor if
  not no yes very just also too only own same such each other any some all both few more most
  one ones its itself`
    .split(/\s+/)
    .filter(Boolean),
);
