import { describe, expect, it } from 'vitest';
import { tokenCount } from './format';

describe('the console counts tokens in words', () => {
  it('one token, otherwise tokens, with thousands separated', () => {
    expect([1, 0, 2, 0.5, 1250].map(tokenCount)).toEqual(['1 token', '0 tokens', '2 tokens', '0.5 tokens', '1,250 tokens']);
  });
});
