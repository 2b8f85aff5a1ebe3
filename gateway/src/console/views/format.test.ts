import { describe, expect, it } from 'vitest';
import { tokenCount, waitWords } from './format';

describe('the console counts tokens in words', () => {
  it('one token, otherwise tokens, with thousands separated', () => {
    expect([1, 0, 2, 0.5, 1250].map(tokenCount)).toEqual(['1 token', '0 tokens', '2 tokens', '0.5 tokens', '1,250 tokens']);
  });
});

describe('the console says how long to wait in words', () => {
  it('seconds below a minute, then whole minutes, a started one counting', () => {
    expect([1, 2, 59, 60, 61, 900].map(waitWords)).toEqual(['1 second', '2 seconds', '59 seconds', '1 minute', '2 minutes', '15 minutes']);
  });
});
