import { describe, expect, it } from 'vitest';
import { isEmailAddress, mailboxOf } from './address';

describe('mailboxOf: the mailbox the per-recipient e-mail caps count by', () => {
  it('drops the local part’s +tag, whatever it holds, in the normal form', () => {
    expect(mailboxOf('ana+team1@example.com')).toBe('ana@example.com');
    expect(mailboxOf('Ana+Team1+x@Example.COM')).toBe('ana@example.com');
    expect(mailboxOf('ana.b+@example.com')).toBe('ana.b@example.com');
    expect(mailboxOf('ana@example.com')).toBe('ana@example.com');
    // NFD and NFC spellings of one address are one mailbox, as they are one Autodesk ID.
    expect(mailboxOf('jose\u0301+1@example.com')).toBe(mailboxOf('jos\u00e9@example.com'));
  });

  it('keeps a local part that starts with + whole: there is no mailbox name before the tag', () => {
    expect(isEmailAddress('+ana@example.com')).toBe(true);
    expect(mailboxOf('+ana@example.com')).toBe('+ana@example.com');
  });
});
