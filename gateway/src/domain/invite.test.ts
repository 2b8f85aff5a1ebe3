import { isEmailAddress as isEmail } from '@flexgate/shared';
import { describe, expect, it } from 'vitest';
import { parseInvite } from './invite';

describe('R11: parseInvite ("Full Name <email>")', () => {
  it.each([
    ['John Doe <john.doe@example.com>', 'John Doe', 'john.doe@example.com'],
    ['  Élodie   Martin-Dupont <E.Martin@Example.FR>  ', 'Élodie Martin-Dupont', 'e.martin@example.fr'],
    ['Jo <jo@a.co>', 'Jo', 'jo@a.co'],
    ["O'Brien, Pat <pat+flex@corp.example.com>", "O'Brien, Pat", 'pat+flex@corp.example.com'],
    // One person however the accent was typed: composed, or "e" and a combining accent (NFC).
    ['José <jose\u0301@example.es>', 'José', 'jos\u00e9@example.es'],
    ['José <JOS\u00c9@example.es>', 'José', 'jos\u00e9@example.es'],
  ])('accepts %j', (input, name, email) => {
    expect(parseInvite(input)).toEqual({ ok: true, name, email });
  });

  it.each([
    ['', /empty/],
    ['john.doe@example.com', /has no name/],
    ['<john.doe@example.com>', /name is missing/],
    ['John Doe john.doe@example.com', /not a name followed by an e-mail/],
    ['John Doe <john.doe@example.com', /not a name followed by an e-mail/],
    ['John Doe <john.doe@example.com> extra', /not a name followed by an e-mail/],
    ['John <Doe> <john@example.com>', /not a name followed by an e-mail/],
    ['John Doe <not-an-email>', /not an e-mail address/],
    ['John Doe <john doe@example.com>', /not an e-mail address/],
    ['John Doe <john@localhost>', /not an e-mail address/],
    // What a mail library reads as a group or a comment would be delivered elsewhere than it says.
    ['Call me <a:victim@example.com>', /not an e-mail address/],
    ['Call me <x(y)z@example.com>', /not an e-mail address/],
    ['Call me <victim@[127.0.0.1]>', /not an e-mail address/],
    ['Call me <victim@example.com.>', /not an e-mail address/],
    ['Call me <victim@example..com>', /not an e-mail address/],
    ['Call me <.victim@example.com>', /not an e-mail address/],
    ['"John" <john@example.com>', /may not contain quotes/],
    ['john@example.com <john@example.com>', /may not contain/],
    [`${'x'.repeat(201)} <a@b.co>`, /longer than 200/],
  ])('refuses %j with a message saying what to write', (input, message) => {
    const r = parseInvite(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('takes each part up to its limit: 400 characters in all, a name of 200, an address of 254', () => {
    const name = 'n'.repeat(200);
    const email = `${'a'.repeat(185)}@example.com`;
    expect(`${name} <${email}>`).toHaveLength(400);
    expect(parseInvite(`${name} <${email}>`)).toEqual({ ok: true, name, email });
    expect(parseInvite(`${name} <a${email}>`)).toEqual({ ok: false, message: 'The invitation is longer than 400 characters.' });
    const longest = `${'b'.repeat(242)}@example.com`;
    expect([longest.length, isEmail(longest), isEmail(`b${longest}`)]).toEqual([254, true, false]);
    expect(parseInvite(`Jo <${longest}>`)).toEqual({ ok: true, name: 'Jo', email: longest });
    expect(parseInvite(`Jo <b${longest}>`).ok).toBe(false);
    expect(isEmail('not-an-email')).toBe(false);
  });
});
