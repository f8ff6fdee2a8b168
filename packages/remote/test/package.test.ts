import { describe, expect, it } from 'vitest';
import { REMOTE_PROTOCOLS } from '../src/index.js';

describe('@hicra/remote', () => {
  it('names the protocol versions it speaks', () => {
    expect(REMOTE_PROTOCOLS.tinker).toMatch(/SDK <= 0\.24/);
    expect(REMOTE_PROTOCOLS.openai).toMatch(/vLLM/);
  });
});
