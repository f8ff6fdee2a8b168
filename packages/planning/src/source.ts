/** The `source` every error of this package carries. */
export const SOURCE = '@hicra/planning';
