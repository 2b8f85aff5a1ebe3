import { z } from 'zod';
import { EMAIL_ADDRESS, normalAutodeskId } from './address';
import { isCalendarInstant } from './calendar';

/** Timestamps on the wire are ISO-8601 in UTC; anything Date can read, within years 2000-9999. */
export const isoInstant = z
  .string()
  .max(40)
  .refine(isCalendarInstant, {
    message: 'must be an ISO-8601 date-time that exists on the calendar, e.g. 2026-03-15T10:00:00Z',
  })
  .refine(
    (s) => {
      const y = new Date(s).getUTCFullYear();
      return y >= 2000 && y <= 9999;
    },
    { message: 'must be between the years 2000 and 9999' },
  );

/** Autodesk IDs are plain e-mail addresses, stored and compared in one form (address.ts). */
export const autodeskId = z.string().trim().min(3).max(254).regex(EMAIL_ADDRESS, 'must be an e-mail address').transform(normalAutodeskId);

export const productKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes');

export const teamId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a team id');

/**
 * A whole number in a query string (a cursor, a page size): digits only, given once. `z.coerce`
 * read "0x10" as 16, "1e2" as 100 and " " as 0, and a repeated parameter failed as "received NaN".
 */
export const queryInteger = (min: number, max: number) =>
  z
    .string({ error: 'must be a whole number, given once' })
    .regex(/^\d{1,16}$/, 'must be a whole number, written in digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** Tokens are whole numbers; a billion is far past any real purchase and safe in every column type. */
export const tokenAmount = z.number().int('must be a whole number of tokens').positive().max(1_000_000_000);

/** A name of one line (a person, a team, a product), as the invitation and the CSV import already require. */
export const displayName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]*$/u, 'must hold no control characters (a name is one line)');
export const password = z.string().min(8, 'must be at least 8 characters').max(1024);

/**
 * Money is a whole number of minor units (cents) of the one currency the operator configures
 * (FLEXGATE_CURRENCY), so sums and comparisons stay exact; 10^12 is far past any price.
 */
export const MAX_MONEY = 1_000_000_000_000;
export const moneyAmount = z.number().int('must be a whole number of minor units (e.g. cents)').min(0).max(MAX_MONEY);

export const createProductBody = z.strictObject({
  key: productKey,
  name: displayName,
  dailyRate: tokenAmount,
  subscriptionPricePerYear: moneyAmount.optional(),
});
/** A rate change (R8), a subscription price (null clears it), or both. */
export const updateProductBody = z
  .strictObject({ dailyRate: tokenAmount.optional(), subscriptionPricePerYear: moneyAmount.nullable().optional() })
  .refine((b) => b.dailyRate !== undefined || b.subscriptionPricePerYear !== undefined, {
    message: 'give dailyRate, subscriptionPricePerYear or both',
  });
export const createTeamBody = z.strictObject({ name: displayName });
export const createAdminBody = z.strictObject({
  name: displayName,
  email: autodeskId,
  teams: z.array(teamId).max(1000),
});
export const createUserBody = z.strictObject({ autodeskId, name: displayName, password });
export const licenseBody = z.strictObject({
  autodeskId,
  product: productKey,
  startsAt: isoInstant.optional(),
  endsAt: isoInstant,
});
export const clockBody = z.strictObject({ now: isoInstant });
export const purchaseBody = z.strictObject({
  tokens: tokenAmount,
  purchasedAt: isoInstant.optional(),
  pricePerToken: moneyAmount.optional(),
});
export const transferBody = z.strictObject({ toTeam: teamId, tokens: tokenAmount });
export const addMemberBody = z
  .strictObject({
    autodeskId: autodeskId.optional(),
    invite: z.string().max(400).optional(),
    guest: z.boolean().optional(),
    products: z.array(productKey).max(1000).optional(),
    allProducts: z.boolean().optional(),
  })
  .refine((b) => (b.autodeskId === undefined) !== (b.invite === undefined), {
    message: 'give exactly one of autodeskId or invite',
  });
export const signInBody = z.strictObject({ autodeskId, password: z.string().min(1).max(1024) });
export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(200) });
/** The machine a product runs on, as the client names it (at most 200 characters; '' or absent: unnamed). */
export const machineName = z.string().max(200);
export const launchBody = z.strictObject({
  product: productKey,
  team: teamId.optional(),
  machine: machineName.optional(),
});
/** `POST /v1/sessions/:id/heartbeat` and `/end`: which machine speaks (R7a); the body may be left out. */
export const sessionBody = z.strictObject({
  machine: machineName.optional(),
  /** R7b (heartbeats): seconds the product was idle since the previous heartbeat, counting only stretches of 15 minutes or more. */
  idleSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .optional(),
});

/** `POST /v1/offline-allowance`: the machine it is for, kept with the allowance. */
export const offlineAllowanceBody = z.strictObject({ machine: z.string().max(200).optional() });

export type CreateProductBody = z.infer<typeof createProductBody>;
export type UpdateProductBody = z.infer<typeof updateProductBody>;
export type LaunchBody = z.infer<typeof launchBody>;
export type SessionBody = z.infer<typeof sessionBody>;
export type AddMemberBody = z.infer<typeof addMemberBody>;
