/** One problem of a task: the prompt the policy sees and what the reward checks against. */
export interface Problem {
  readonly id: string;
  readonly prompt: string;
  readonly reference?: unknown;
}
