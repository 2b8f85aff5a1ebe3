import { describe, expect, it } from 'vitest';
import { splitName } from './report';

describe("the usage export's name columns (R15, Flex's export)", () => {
  it('splits at the first space: one word is a first name alone, and a blank name leaves both empty', () => {
    expect(splitName('Ada King Lovelace')).toEqual({ first: 'Ada', last: 'King Lovelace' });
    expect(splitName('  Cher ')).toEqual({ first: 'Cher', last: '' });
    expect(splitName('   ')).toEqual({ first: '', last: '' });
  });
});
