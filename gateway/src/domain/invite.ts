import { isEmailAddress, normalAutodeskId } from '@flexgate/shared';
/** R11: a new user is written `Full Name <email>`, as in Flex's "Assign users" box. */

export type InviteParse = { ok: true; name: string; email: string } | { ok: false; message: string };

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
    if (isEmailAddress(text)) return { ok: false, message: `"${text}" has no name; ${FORMAT}.` };
    return { ok: false, message: `"${text}" is not a name followed by an e-mail in angle brackets; ${FORMAT}.` };
  }
  const name = (m[1] ?? '').replace(/\s+/g, ' ').trim();
  const email = (m[2] ?? '').trim();
  if (name.length === 0) return { ok: false, message: `The name is missing before <${email}>; ${FORMAT}.` };
  if (name.length > 200) return { ok: false, message: 'The name is longer than 200 characters.' };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f"@]/.test(name))
    return { ok: false, message: `The name "${name}" may not contain quotes, "@" or control characters.` };
  if (!isEmailAddress(email)) return { ok: false, message: `"${email}" is not an e-mail address; ${FORMAT}.` };
  // The same address, however its case or accents were typed, is one Autodesk ID (RULES "Words").
  return { ok: true, name, email: normalAutodeskId(email) };
}
