import { describe, expect, it } from 'vitest';
import { acceptLink, expiringMail, invitationMail, senderOf, sentText } from './mails';
import { humanInstant } from './time';

describe('invitation e-mail (R11)', () => {
  const mail = (hasAccount: boolean) =>
    invitationMail({
      to: 'ada@example.com',
      name: 'Ada',
      teamName: 'Acme',
      link: acceptLink('https://flex.example.com', 'inv_abc+/='),
      expiresAt: '2026-03-22T10:00:00.000Z',
      products: ['AutoCAD'],
      allProducts: false,
      hasAccount,
    });

  it('links to the accept page with the token, and gives the expiry as a person reads it', () => {
    const { text } = mail(false);
    expect(text).toContain('Link: https://flex.example.com/console/invitations/accept?token=inv_abc%2B%2F%3D');
    expect(text).toContain('Sunday 22 March 2026 at 10:00 UTC');
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T|POST|\/v1\//);
    expect(text).toMatch(/choose a password/);
    expect(mail(true).text).toMatch(/sign in with your Autodesk ID/);
  });

  it('once sent, the outbox keeps the e-mail without its link', () => {
    const kept = sentText(mail(false).text);
    expect(kept).not.toContain('inv_abc');
    expect(kept).toContain('Link: (removed from the outbox once sent)');
  });
});

describe('R19 alert e-mails', () => {
  it('the expiry alert says in its subject how many tokens expire, over all the lots', () => {
    const lots = [
      { remaining: 120, expiresAt: '2026-05-01T00:00:00.000Z' },
      { remaining: 80, expiresAt: '2026-06-01T00:00:00.000Z' },
    ];
    expect(expiringMail({ to: 'admin@example.com', teamName: 'Acme', lots }).subject).toBe(
      'Autodesk Flex: 200 tokens of team Acme expire within 90 days',
    );
  });
});

describe('dates and senders', () => {
  it.each([
    ['2026-03-22T10:00:00.000Z', 'Sunday 22 March 2026 at 10:00 UTC'],
    ['2026-12-01T09:05:59.999Z', 'Tuesday 1 December 2026 at 09:05 UTC'],
  ])('humanInstant(%s)', (iso, text) => expect(humanInstant(iso)).toBe(text));

  it('splits the sender so that a name with parentheses survives', () => {
    expect(senderOf('Autodesk Flex (flexgate) <no-reply@flexgate.local>')).toEqual({
      name: 'Autodesk Flex (flexgate)',
      address: 'no-reply@flexgate.local',
    });
    expect(senderOf('"Quoted Name" <a@b.co>')).toEqual({ name: 'Quoted Name', address: 'a@b.co' });
    expect(senderOf('bare@example.com')).toBe('bare@example.com');
  });
});
