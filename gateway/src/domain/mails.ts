import { humanInstant } from './time';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  kind: string;
}

/**
 * The e-mails of R11, R14 and R19, as plain text. Lines stay short so that no transfer encoding
 * folds the invitation token: a person copies it, a test reads it.
 */

const list = (names: readonly string[]) => (names.length === 0 ? '  (none)' : names.map((n) => `  - ${n}`).join('\n'));

export function accessMail(m: { to: string; name: string; teamName: string; products: readonly string[]; allProducts: boolean }): Mail {
  return {
    to: m.to,
    kind: 'access',
    subject: `Autodesk Flex: your product access in team ${m.teamName}`,
    text: [
      `Hello ${m.name},`,
      '',
      `An administrator of team ${m.teamName} changed the products you may use with Autodesk Flex.`,
      m.allProducts ? 'You may use every Flex product, including products added later:' : 'You may now use:',
      list(m.products),
      '',
      'Each day you use a product costs the team its daily rate in Flex tokens.',
    ].join('\n'),
  };
}

/** The accept page of an invitation, on the gateway's public address; the token rides in the query. */
export const INVITATION_PAGE = '/console/invitations/accept';
export const acceptLink = (publicUrl: string, token: string) => `${publicUrl}${INVITATION_PAGE}?token=${encodeURIComponent(token)}`;

export function invitationMail(m: {
  to: string;
  name: string;
  teamName: string;
  /** The accept page's link, token included (`acceptLink`). */
  link: string;
  expiresAt: string;
  products: readonly string[];
  allProducts: boolean;
  /** An Autodesk account with this e-mail exists: the person signs in to accept, or declines. */
  hasAccount: boolean;
}): Mail {
  return {
    to: m.to,
    kind: 'invitation',
    subject: `Autodesk Flex: you are invited to team ${m.teamName}`,
    text: [
      `Hello ${m.name},`,
      '',
      `You are invited to use Autodesk Flex products with team ${m.teamName}.`,
      m.allProducts ? 'You will be able to use every Flex product.' : 'You will be able to use:',
      ...(m.allProducts ? [] : [list(m.products)]),
      '',
      m.hasAccount
        ? 'Open this page to accept (sign in with your Autodesk ID) or decline:'
        : 'Open this page to choose a password and accept:',
      '',
      `Link: ${m.link}`,
      '',
      `The invitation expires on ${humanInstant(m.expiresAt)} (7 days after it was sent).`,
      'After that, ask a team administrator to send it again.',
      'If you did not expect it, ignore this e-mail: nothing happens unless you accept.',
    ].join('\n'),
  };
}

/** The line of an invitation e-mail that carries its token (in its link); once the e-mail is sent, no more. */
const TOKEN_LINE = /^(Token|Link): \S+$/gm;
export const SENT_TOKEN_LINE = 'Link: (removed from the outbox once sent)';

/**
 * The text the outbox keeps of a sent e-mail: the invitation token was for its recipient, and
 * whoever reads the database later (a backup) must not be able to accept the invitation with it.
 */
export const sentText = (text: string): string => text.replace(TOKEN_LINE, SENT_TOKEN_LINE);

/** The forecast's sentence (domain/forecast.ts `outlookSentence`), on lines of its own, when there is one. */
const outlookLines = (outlook: string | null | undefined): string[] => (outlook ? ['', outlook] : []);

/**
 * The text with its invitation token passed through `f`: sealed under the KEK while the e-mail
 * waits in the outbox, opened only to send it or to show it to the operator (SECURITY.md).
 */
export const mapToken = (text: string, f: (token: string) => string): string =>
  text.replace(TOKEN_LINE, (line) => {
    // `Link: <accept page>?token=...`: the whole link is sealed (it carries the token).
    const at = line.indexOf(': ') + 2;
    return `${line.slice(0, at)}${f(line.slice(at))}`;
  });

/** What an invitation token in the outbox is sealed to: its e-mail's recipient (the associated data). */
export const outboxTokenPlace = (to: string) => `outbox invitation token for ${to.toLowerCase()}`;

/**
 * R19's low-balance e-mail. `outOfReach`: the products the team launched lately whose daily rate is
 * more than the balance: their launches are refused already. `stranded`: the forecast says the
 * balance is below the smallest of their rates, so they are all of them, and saying "before
 * products stop" and when the tokens run out would be false.
 */
export function lowBalanceMail(m: {
  to: string;
  teamName: string;
  balance: number;
  validBought: number;
  outlook?: string | null;
  outOfReach?: readonly { name: string; dailyRate: number }[];
  stranded?: boolean;
}): Mail {
  const out = m.outOfReach ?? [];
  const all = out.length > 0 && m.stranded === true;
  const refused = out.map((p) => `${p.name} (${p.dailyRate} a day)`).join(', ');
  return {
    to: m.to,
    kind: 'alert-low-balance',
    subject: `Autodesk Flex: team ${m.teamName} has ${m.balance} tokens left`,
    text: [
      `Team ${m.teamName} has ${m.balance} Flex tokens left, below 20% of the`,
      `${m.validBought} still-valid tokens it bought.`,
      ...(all
        ? [
            `That is less than a day of any product it launched lately: ${refused}.`,
            'These no longer launch; buy tokens to launch them again.',
          ]
        : out.length > 0
          ? [`Less than a day of ${refused}: these no longer launch.`, 'Buy more tokens before the others stop too.']
          : ['Buy more tokens before products stop launching.']),
      ...(all ? [] : outlookLines(m.outlook)),
    ].join('\n'),
  };
}

export function expiringMail(m: {
  to: string;
  teamName: string;
  lots: readonly { remaining: number; expiresAt: string }[];
  outlook?: string | null;
}): Mail {
  const total = m.lots.reduce((s, l) => s + l.remaining, 0);
  return {
    to: m.to,
    kind: 'alert-expiring',
    subject: `Autodesk Flex: ${total} tokens of team ${m.teamName} expire within 90 days`,
    text: [
      `${total} Flex tokens of team ${m.teamName} expire within 90 days:`,
      ...m.lots.map((l) => `  - ${l.remaining} tokens on ${l.expiresAt}`),
      'Unused tokens are lost when they expire, one year after purchase.',
      ...outlookLines(m.outlook),
    ].join('\n'),
  };
}

/**
 * The sender, as FLEXGATE_MAIL_FROM gives it ("Name <address>" or a bare address), split so that
 * the name is sent quoted: a mail library would read "(flexgate)" in an unquoted name as an
 * RFC 5322 comment and drop it.
 */
export function senderOf(from: string): { name: string; address: string } | string {
  const m = /^\s*"?([^"<]*?)"?\s*<([^<>\s]+)>\s*$/.exec(from);
  return m?.[1] && m[2] ? { name: m[1], address: m[2] } : from.trim();
}
