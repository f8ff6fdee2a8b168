/**
 * @hicra/policy: a decoder-only transformer policy for RL on language models.
 */
export {};
