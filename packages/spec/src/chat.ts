/**
 * One message of a conversation, as chat datasets (verl's `prompt` column) and chat templates
 * see it. Fields other than `role` and `content` (`tool_calls`, `reasoning_content`, ...) are
 * carried as they are.
 */
export interface ChatMessageV1 {
  /** `system`, `user`, `assistant`, `tool`... */
  readonly role: string;
  readonly content: string;
  readonly [field: string]: unknown;
}
