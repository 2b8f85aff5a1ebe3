/** R11: a new user is written `Full Name <email>`, as in Flex's "Assign users" box. */

export type InviteParse = { ok: true; name: string; email: string } | { ok: false; message: string };

// The same shape the wire accepts for an Autodesk ID: something@domain.tld, no spaces or brackets.
const EMAIL = /^[^\s@<>",;()]+@[^\s@<>",;()]+\.[^\s@<>",;()]+$/;
const FORMAT = 'write it as Full Name <email>, e.g. "John Doe <john.doe@example.com>"';

/**
 * Strict on purpose: anything that is not exactly a name followed by one address in angle
 * brackets is refused with a message that says what to write, rather than guessed at.
 */
export function parseInvite(input: string): InviteParse {
  const text = input.trim();
  if (text.length === 0) return { ok: false, message: `The invitation is empty; ${FORMAT}.` };
  if (text.length > 400) return { ok: false, message: 'The invitation is longer than 400 characters.' };
  const m = /^([^<>]*?)\s*<([^<>]*)>$/.exec(text);
  if (!m) {
    if (EMAIL.test(text)) return { ok: false, message: `"${text}" has no name; ${FORMAT}.` };
    return { ok: false, message: `"${text}" is not a name followed by an e-mail in angle brackets; ${FORMAT}.` };
  }
  const name = (m[1] ?? '').replace(/\s+/g, ' ').trim();
  const email = (m[2] ?? '').trim();
  if (name.length === 0) return { ok: false, message: `The name is missing before <${email}>; ${FORMAT}.` };
  if (name.length > 200) return { ok: false, message: 'The name is longer than 200 characters.' };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f"@]/.test(name))
    return { ok: false, message: `The name "${name}" may not contain quotes, "@" or control characters.` };
  if (email.length > 254 || !EMAIL.test(email)) return { ok: false, message: `"${email}" is not an e-mail address; ${FORMAT}.` };
  // Autodesk IDs compare case-insensitively (RULES "Words"), so they are kept lower-cased.
  return { ok: true, name, email: email.toLowerCase() };
}

export function isEmail(text: string): boolean {
  return text.length <= 254 && EMAIL.test(text);
}
