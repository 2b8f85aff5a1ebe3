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
