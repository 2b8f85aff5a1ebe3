import { describe, expect, it } from 'vitest';
import { parseInvite } from './invite';

describe('R11: parseInvite ("Full Name <email>")', () => {
  it.each([
    ['John Doe <john.doe@example.com>', 'John Doe', 'john.doe@example.com'],
    ['  Élodie   Martin-Dupont <E.Martin@Example.FR>  ', 'Élodie Martin-Dupont', 'e.martin@example.fr'],
    ['Jo <jo@a.co>', 'Jo', 'jo@a.co'],
    ["O'Brien, Pat <pat+flex@corp.example.com>", "O'Brien, Pat", 'pat+flex@corp.example.com'],
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
    ['"John" <john@example.com>', /may not contain quotes/],
    ['john@example.com <john@example.com>', /may not contain/],
    [`${'x'.repeat(201)} <a@b.co>`, /longer than 200/],
  ])('refuses %j with a message saying what to write', (input, message) => {
    const r = parseInvite(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});
