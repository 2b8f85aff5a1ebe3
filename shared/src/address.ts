/**
 * What an Autodesk ID may be: one plain e-mail address (RFC 5322's dot-atom local part, a domain of
 * dotted labels; letters beyond ASCII allowed, RFC 6531). Nothing a mail library would read as
 * more than one mailbox or as a comment: no `:` (a group, `a:victim@x` is delivered to victim@x),
 * no parentheses, brackets, quotes, commas, semicolons or spaces.
 */
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\uffff-]+";
const LABEL = '[A-Za-z0-9\\u0080-\\uffff](?:[A-Za-z0-9\\u0080-\\uffff-]*[A-Za-z0-9\\u0080-\\uffff])?';
export const EMAIL_ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@${LABEL}(?:\\.${LABEL})+$`);

export function isEmailAddress(text: string): boolean {
  return text.length <= 254 && EMAIL_ADDRESS.test(text);
}

/**
 * The one form an Autodesk ID is stored and compared in: lower case (IDs compare without regard to
 * case) and Unicode NFC, so that an address typed with a composed "é" and one with "e" and a
 * combining accent are the same person, not two.
 */
export function normalAutodeskId(text: string): string {
  return text.trim().toLowerCase().normalize('NFC');
}

/**
 * The mailbox a message to `address` reaches at most providers: the address without the local
 * part's `+tag` (subaddressing, RFC 5233: `ana+team1@x.com` is delivered to `ana@x.com`), in the
 * normal form. The per-recipient e-mail caps count by it, so tags cannot multiply them; an address
 * whose `+` is a real part of the mailbox's name only shares a cap it did not need.
 */
export function mailboxOf(address: string): string {
  const normal = normalAutodeskId(address);
  const at = normal.lastIndexOf('@');
  const plus = normal.indexOf('+');
  return plus > 0 && plus < at ? normal.slice(0, plus) + normal.slice(at) : normal;
}
