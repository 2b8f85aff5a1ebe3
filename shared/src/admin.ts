import { z } from 'zod';
import { isCalendarInstant } from './calendar';
import type { AccessSource } from './claims';
import { autodeskId, password, productKey, queryInteger } from './schemas';
import type { LedgerKind } from './wire';

/** Request schemas and answer types of the team-administration routes. */

export const memberProductsBody = z.strictObject({
  allProducts: z.boolean().default(false),
  products: z.array(productKey).max(1000).default([]),
});
/** `PUT .../members/:autodeskId/guest`: a guest gets no default products (R13). */
export const memberGuestBody = z.strictObject({ guest: z.boolean() });
export const defaultsBody = z.strictObject({ products: z.array(productKey).max(1000) });
export const acceptInvitationBody = z.strictObject({ token: z.string().min(10).max(200), password });

/** An invitation id, as `GET .../members` shows it and the routes' paths take it. */
export const invitationId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an invitation id');
/** The most invitations one bulk send e-mails (an import's rows): one transaction's worth. */
export const SEND_INVITATIONS_MAX = 10_000;
/**
 * `{}`: every invitation of the team never e-mailed; `{invitations}`: only those of them, at most
 * 1,000 ids (a page of `GET .../members`), as every list of the API.
 */
export const sendInvitationsBody = z.strictObject({
  invitations: z.array(invitationId).min(1).max(1000).optional(),
});

/** A day (`2026-03-15`, the whole UTC day) or an instant; `to` as a day is inclusive. */
const dayOrInstant = z.string().max(40).refine(isCalendarInstant, {
  message: 'must be a day (2026-03-15) or an ISO-8601 instant that exists on the calendar',
});
export const usageQuery = z.object({
  from: dayOrInstant.optional(),
  to: dayOrInstant.optional(),
  by: z.enum(['user', 'product', 'day']).default('user'),
  format: z.enum(['json', 'csv']).optional(),
});
export const outboxQuery = z.object({
  to: autodeskId.optional(),
  after: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  limit: queryInteger(1, 10_000).default(1000),
});
export const memberParam = z.object({
  team: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a team id'),
  autodeskId,
});

/** The longest `q` a member search takes: any name or e-mail fits, and the scan stays bounded. */
export const MEMBER_SEARCH_MAX = 200;
/**
 * `GET /v1/teams/:team/members?q=`: members whose name or Autodesk ID contains it, any case
 * (`searchFold`); blank is no search. No control characters: PostgreSQL refuses a NUL in text.
 */
export const memberSearch = z
  .string()
  .max(MEMBER_SEARCH_MAX)
  .regex(/^[^\p{Cc}]*$/u, 'must hold no control characters');

/**
 * The one case rule of the member search, on both engines: Unicode lower case (full mappings, as
 * ICU's root locale: `ΣΊΣΥΦΟΣ` reads `σίσυφος`), then NFC, as Autodesk IDs are stored. Applied by
 * the gateway to every name it writes (`members.name_fold`) and to `q`, never by the database.
 */
export const searchFold = (text: string): string => text.toLowerCase().normalize('NFC');

export type MemberStatus = 'active' | 'invited' | 'expired';

export interface MemberView {
  team: string;
  autodeskId: string;
  name: string;
  guest: boolean;
  status: MemberStatus;
  allProducts: boolean;
  /** The member's own selection (R12); team defaults come on top for non-guests (R13). */
  products: string[];
  /**
   * The current invitation, for a member who has not accepted yet (R11). `emailedAt`: when its
   * e-mail was written; null for an import's until an admin sends it (R14).
   */
  invitation?: InvitationView;
}

/** An invitation as answered: `emailedAt` null until its e-mail is written (an import's, R14). */
export interface InvitationView {
  id: string;
  expiresAt: string;
  emailedAt: string | null;
}

export interface AddMemberResponse {
  member: MemberView;
  invitation?: InvitationView;
}

export interface InvitationAccepted {
  autodeskId: string;
  team: string;
  status: 'active';
  /** Whether accepting created the Autodesk account (false: an existing one's password was checked). */
  accountCreated: boolean;
}

/** What a bulk send of invitation e-mails did (R11, R14), and what it left for a later call. */
export interface InvitationsSent {
  /** Invitation e-mails written by this call: each a new invitation, valid 7 days. */
  sent: number;
  /** Invitations never e-mailed (of those named) still waiting after this call. */
  remaining: number;
  /** Of `remaining`, those held by the volume limits (per admin key and per team, an hour). */
  heldByVolume: number;
  /** Of `remaining`, those whose address had its 3 invitation e-mails in the last 24 hours. */
  heldByRecipient: number;
  /** Seconds until a call can send more of them (0: now); null when none remain. */
  retryAfterSeconds: number | null;
  /** Ids named that wait for no e-mail: unknown, another team's, e-mailed already, accepted or withdrawn. */
  skipped: number;
}

export interface DefaultsView {
  team: string;
  products: string[];
  /** R13: an empty set means defaults are off. */
  enabled: boolean;
}

export interface ImportResult {
  created: number;
  updated: number;
  /** `line` counts the file's lines, the header being line 1. */
  errors: { line: number; message: string }[];
}

export interface OutboxMessage {
  id: number;
  to: string;
  subject: string;
  text: string;
  kind: string;
  createdAt: string;
  sentAt: string | null;
  attempts: number;
  lastError: string | null;
}

export interface TransferResponse {
  from: string;
  to: string;
  tokens: number;
  at: string;
  /** One moved part per source lot: the new lot keeps the source lot's expiry (R3). */
  lots: { fromLot: string; toLot: string; tokens: number; expiresAt: string }[];
}

export interface UsageRow {
  key: string;
  tokens: number;
  sessions: number;
}

export interface UsageResponse {
  team: string;
  from: string;
  to: string;
  by: 'user' | 'product' | 'day';
  rows: UsageRow[];
  total: { tokens: number; sessions: number };
}

export interface UsageSummary {
  team: string;
  at: string;
  /** Over the lots still valid: bought = used + available (R5). */
  available: number;
  used: number;
  bought: number;
  /** Purchases, transfers and expiries of the last 90 days, newest first. */
  events: { at: string; kind: LedgerKind; tokens: number; lotId: string; reason: string }[];
  /** Tokens consumed per day over the last 90 days (days without use left out). */
  perDay: { day: string; tokens: number; sessions: number }[];
}

export interface BalanceAlerts {
  /** R19: balance below 20% of the still-valid tokens the team bought. */
  lowBalance: boolean;
  lowBalanceThreshold: number;
  validBought: number;
  /** R19: tokens of lots that expire within 90 days. */
  expiringSoon: boolean;
  expiringTokens: number;
  nextExpiry: string | null;
}

export interface AccessExplanation {
  product: string;
  name: string;
  granted: boolean;
  /**
   * `flex` through this team; `elsewhere` when something this team's admin may not see (the
   * person's own subscription or trial) takes precedence over the access this team gives.
   */
  source: Extract<AccessSource, 'flex'> | 'elsewhere' | null;
  code?: string;
  rule?: string;
  reason: string;
}

/** `GET /v1/teams/:team/forecast`: the balance under the recent burn, and what will expire unused (R2). */
export interface ForecastResponse {
  team: string;
  at: string;
  currency: string;
  balance: number;
  /** The burn: tokens consumed (charges net of refunds) over these whole UTC days, `to` excluded. */
  window: { from: string; to: string; days: number; tokens: number };
  /** window.tokens / window.days, to one decimal (the forecast itself uses the exact fraction). */
  dailyBurn: number;
  runsOutOn: string;
  runsOutAt: string;
  /**
   * When the balance can no longer pay a day of any product the team burns on (below
   * `smallestRate`; 0 without one). `use`: the burn's draw takes it below; `expiry`: lots expiring
   * unused do; `empty`: it is below now (no tokens, or `stranded` ones only).
   */
  runsOutBy: 'use' | 'expiry' | 'empty';
  /** The smallest daily rate among the products launched in the window or today; null when none was. */
  smallestRate: number | null;
  /** Tokens left below `smallestRate` when the balance runs out: no launch can spend them; they are in `atRisk`. */
  stranded: number;
  lots: { id: string; remaining: number; expiresAt: string; pricePerToken: number | null; used: number; atRisk: number }[];
  atRisk: number;
  valueAtRisk: number | null;
  /** The balance at the start of each of the next 365 days, today first. */
  projection: { day: string; balance: number }[];
}

/** `GET /v1/teams/:team/advice`: Flex against single-user subscriptions over last year. */
export interface AdviceResponse {
  team: string;
  at: string;
  currency: string;
  /** The 12 whole UTC months before the current one, `to` excluded. */
  year: { from: string; to: string };
  /** The price paid per token: Σ(price × tokens) / Σtokens of the priced lots that could pay for the year; null without any. */
  pricePerToken: { average: number; basisTokens: number; boughtFrom: string; boughtTo: string } | null;
  /** Flex users for whom a subscription would have been cheaper. */
  flex: {
    autodeskId: string;
    product: string;
    tokensLastYear: number;
    daysLastYear: number;
    costLastYear: number;
    subscriptionPricePerYear: number;
    saving: number;
  }[];
  /** Subscribers whose days of use would have cost less through Flex (days they launched the subscription). */
  subscriptions: {
    autodeskId: string;
    product: string;
    licenseId: string;
    daysCovered: number;
    subscriptionCost: number;
    daysUsed: number;
    flexTokens: number;
    flexCost: number;
    saving: number;
  }[];
  total: { flexSaving: number; subscriptionSaving: number };
}

/** `GET /v1/me/usage`: a range like the team usage report's, without `by` and `format`. */
export const myUsageQuery = z.object({ from: dayOrInstant.optional(), to: dayOrInstant.optional() });

/** `GET /v1/me/usage`: the caller's own Flex use, one row per UTC day, product and team. */
export interface MyUsageResponse {
  autodeskId: string;
  from: string;
  to: string;
  rows: { day: string; product: string; productName: string; team: string; teamName: string; sessions: number; tokens: number }[];
  total: { tokens: number; sessions: number };
}

/** `GET /v1/teams/:team/advice`: JSON, or the CSV (`format=csv` or `Accept: text/csv`). */
export const adviceQuery = z.object({ format: z.enum(['json', 'csv']).optional() });

/** An audit action name: dotted lower-case words (`member.invited`); a trailing `.*` matches a family. */
const auditAction = z
  .string()
  .max(64)
  .regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?$/, 'must be an action such as member.invited, or a family such as member.*');
/** Who acted, as the trail names them: `operator`, `admin:<id>`, `console:<admin id>` or `user:<Autodesk ID>`. */
const auditActor = z
  .string()
  .max(300)
  .regex(
    /^(operator|(admin|console):[A-Za-z0-9_-]{1,64}|adm_[A-Za-z0-9_-]{1,60}|user:[^\s<>@]{1,200}@[^\s<>@]{1,200})$/,
    'must be operator, admin:<id>, console:<id>, an admin id alone (adm_...: both) or user:<Autodesk ID>',
  );
export const auditQuery = z.object({
  action: auditAction.optional(),
  actor: auditActor.optional(),
  from: dayOrInstant.optional(),
  to: dayOrInstant.optional(),
  /** Keyset cursor: entries older than this id (the newest come first). */
  before: queryInteger(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInteger(1, 1000).default(100),
  format: z.enum(['json', 'csv']).optional(),
});
export type AuditQuery = z.infer<typeof auditQuery>;

/** One entry of the audit trail, as `GET .../audit` answers it. */
export interface AuditEntryView {
  id: number;
  at: string;
  team: string | null;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}
