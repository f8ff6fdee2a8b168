/**
 * The local engine's one door to its losses: `engineLoss` from `@hicra/tensor` (Tinker's five
 * built-ins, verl's PPO and GSPO, each a token sum, with the optional entropy and KL terms).
 */
export {
  type EngineLossInput,
  type EngineLossResult,
  engineLoss as computeLoss,
} from '@hicra/tensor';
