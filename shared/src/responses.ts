import { z } from 'zod';
import type {
  AccessExplanation,
  AddMemberResponse,
  AdviceResponse,
  AuditEntryView,
  DefaultsView,
  ForecastResponse,
  ImportResult,
  InvitationAccepted,
  InvitationsSent,
  MemberView,
  MyUsageResponse,
  OutboxMessage,
  TransferResponse,
  UsageResponse,
  UsageSummary,
} from './admin';
import type {
  BalanceResponse,
  LaunchPreview,
  LaunchResponse,
  LedgerEntry,
  LotView,
  OfflineAllowanceResponse,
  Product,
  SessionEndResponse,
} from './wire';

/**
 * The answers of the HTTP API as zod schemas, for the OpenAPI document (`/openapi.json`). The
 * TypeScript interfaces of admin.ts and wire.ts stay the types code uses; the checks at the end
 * of this file fail the build when a schema and its interface drift apart.
 */

const instant = z.string().describe('ISO-8601 instant, UTC');
const nullableInstant = instant.nullable();
const source = z.enum(['subscription', 'trial', 'flex']);
export const ledgerKind = z.enum(['purchase', 'charge', 'refund', 'transfer-out', 'transfer-in', 'expiry']);

const money = z.number().int().describe('Minor units of the gateway currency (FLEXGATE_CURRENCY)');
export const productResponse = z.object({
  key: z.string(),
  name: z.string(),
  dailyRate: z.number().int(),
  addedAt: instant,
  subscriptionPricePerYear: money.nullable(),
});
export const teamResponse = z.object({ id: z.string(), name: z.string(), createdAt: instant });
export const adminCreatedResponse = z.object({
  id: z.string(),
  key: z.string().describe('The admin key, shown once'),
  name: z.string(),
  email: z.string(),
  teams: z.array(z.string()),
});
export const adminKeyResponse = z.object({ id: z.string(), key: z.string().describe('The new admin key, shown once') });
/** GET /v1/admins/me: the admin whose key made the request (its id is what key rotation takes). */
export const adminSelfResponse = z.object({ id: z.string(), name: z.string(), email: z.string(), teams: z.array(z.string()) });
export const accountResponse = z.object({ autodeskId: z.string(), name: z.string(), createdAt: instant });
export const licenseResponse = z.object({
  id: z.string(),
  kind: z.enum(['subscription', 'trial']),
  autodeskId: z.string(),
  product: z.string(),
  startsAt: instant,
  endsAt: instant,
});
export const rotatedKeyResponse = z.object({ kid: z.string() });
export const signingKeyResponse = z.object({
  kid: z.string(),
  status: z.enum(['active', 'retired', 'dropped', 'revoked']),
  createdAt: instant,
  retiredAt: nullableInstant,
  revokedAt: nullableInstant,
});
export const keyRevokedResponse = z.object({ kid: z.string(), revokedAt: instant, activeKid: z.string(), keySetVersion: z.number().int() });
export const outboxMessageResponse = z.object({
  id: z.number().int(),
  to: z.string(),
  subject: z.string(),
  text: z.string(),
  kind: z.string(),
  createdAt: instant,
  sentAt: nullableInstant,
  attempts: z.number().int(),
  lastError: z.string().nullable(),
});
export const clockResponse = z.object({ now: instant });
export const tokensResponse = z.object({
  token: z.string().describe('ID token (a JWS) for Authorization: Bearer'),
  expiresAt: instant,
  refreshToken: z.string(),
  autodeskId: z.string(),
});
export const userRevokedResponse = z.object({ autodeskId: z.string(), revokedAt: instant });

export const purchaseResponse = z.object({
  lotId: z.string(),
  team: z.string(),
  tokens: z.number().int(),
  purchasedAt: instant,
  expiresAt: instant,
  pricePerToken: money.nullable(),
});
export const lotResponse = z.object({
  id: z.string(),
  tokens: z.number().int(),
  remaining: z.number().int(),
  purchasedAt: instant,
  expiresAt: instant,
  expired: z.boolean(),
  pricePerToken: money.nullable(),
});
export const balanceResponse = z.object({
  team: z.string(),
  balance: z.number().int(),
  lots: z.array(lotResponse),
  alerts: z.object({
    lowBalance: z.boolean(),
    lowBalanceThreshold: z.number(),
    validBought: z.number().int(),
    expiringSoon: z.boolean(),
    expiringTokens: z.number().int(),
    nextExpiry: nullableInstant,
  }),
});
export const ledgerEntryResponse = z.object({
  id: z.number().int(),
  at: instant,
  kind: ledgerKind,
  tokens: z.number().int().describe('Signed change of the balance'),
  lotId: z.string(),
  actor: z.string(),
  autodeskId: z.string().nullable(),
  product: z.string().nullable(),
  sessionId: z.string().nullable(),
  reason: z.string(),
  prevHash: z.string().describe("The previous entry's hash (64 zeros for a team's first): docs/ledger.md"),
  hash: z.string().describe('Lowercase hex SHA-256 of prevHash, a newline and the canonical JSON of this entry without hash'),
});
export const transferResponse = z.object({
  from: z.string(),
  to: z.string(),
  tokens: z.number().int(),
  at: instant,
  lots: z.array(z.object({ fromLot: z.string(), toLot: z.string(), tokens: z.number().int(), expiresAt: instant })),
});

const invitationRef = z.object({
  id: z.string(),
  expiresAt: instant,
  emailedAt: instant.nullable().describe("When its e-mail was written to the outbox; null: an import's, never e-mailed yet (R14)"),
});
export const memberResponse = z.object({
  team: z.string(),
  autodeskId: z.string(),
  name: z.string(),
  guest: z.boolean(),
  status: z.enum(['active', 'invited', 'expired']),
  allProducts: z.boolean(),
  products: z.array(z.string()),
  invitation: invitationRef.optional(),
});
export const addMemberResponse = z.object({ member: memberResponse, invitation: invitationRef.optional() });
export const invitationResponse = invitationRef;
export const invitationsSentResponse = z.object({
  sent: z.number().int().describe('Invitation e-mails written by this call, each a new invitation valid 7 days'),
  remaining: z.number().int().describe('Invitations never e-mailed (of those named) still waiting'),
  heldByVolume: z.number().int().describe('Of remaining: held by the hourly limits per admin key and per team'),
  heldByRecipient: z.number().int().describe('Of remaining: their address had 3 invitation e-mails in the last 24 hours'),
  retryAfterSeconds: z.number().int().nullable().describe('Seconds until a call can send more (0: now); null when none remain'),
  skipped: z.number().int().describe('Ids named that wait for no e-mail (unknown, e-mailed already, accepted, withdrawn)'),
});
export const defaultsResponse = z.object({ team: z.string(), products: z.array(z.string()), enabled: z.boolean() });
export const importResponse = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
});
export const accessResponse = z.object({
  product: z.string(),
  name: z.string(),
  granted: z.boolean(),
  source: z
    .enum(['flex', 'elsewhere'])
    .nullable()
    .describe("This team's grant (flex), or access from elsewhere that takes precedence (not named)"),
  code: z.string().optional(),
  rule: z.string().optional(),
  reason: z.string(),
});
export const invitationAcceptedResponse = z.object({
  autodeskId: z.string(),
  team: z.string(),
  status: z.literal('active'),
  accountCreated: z.boolean(),
});

const usageTotals = z.object({ tokens: z.number().int(), sessions: z.number().int() });
export const usageResponse = z.object({
  team: z.string(),
  from: instant,
  to: instant,
  by: z.enum(['user', 'product', 'day']),
  rows: z.array(z.object({ key: z.string(), tokens: z.number().int(), sessions: z.number().int() })),
  total: usageTotals,
});
export const usageSummaryResponse = z.object({
  team: z.string(),
  at: instant,
  available: z.number().int(),
  used: z.number().int(),
  bought: z.number().int(),
  events: z.array(z.object({ at: instant, kind: ledgerKind, tokens: z.number().int(), lotId: z.string(), reason: z.string() })),
  perDay: z.array(z.object({ day: z.string(), tokens: z.number().int(), sessions: z.number().int() })),
});

export const launchResponse = z.object({
  granted: z.literal(true),
  source,
  charged: z.number().int(),
  session: z.object({ id: z.string(), startsAt: instant, endsAt: instant }).nullable(),
  balance: z.number().int().nullable(),
  team: z.string().nullable(),
  entitlement: z.string().describe('The signed entitlement (a compact JWS)'),
  expiresAt: instant,
});
export const launchPreviewResponse = z.object({
  dryRun: z.literal(true),
  product: z.string(),
  granted: z.boolean(),
  source: source.nullable(),
  team: z.string().nullable(),
  teamName: z.string().nullable(),
  charge: z.number().int(),
  balance: z.number().int().nullable(),
  balanceAfter: z.number().int().nullable(),
  code: z.string().optional(),
  rule: z.string().optional(),
  reason: z.string(),
});
export const sessionEndResponse = z.object({
  session: z.string(),
  charged: z.number().int(),
  refunded: z.number().int(),
  endedAt: instant,
});
export const installableProductResponse = z.object({
  key: z.string(),
  name: z.string(),
  dailyRate: z.number().int(),
  via: z.array(source),
  teams: z.array(z.string()),
});
export const offlineAllowanceResponse = z.object({
  allowance: z.string().describe('The signed allowance (a compact JWS)'),
  id: z.string(),
  issuedAt: instant,
  expiresAt: instant,
  launches: z.number().int(),
  products: z.array(z.object({ product: z.string(), team: z.string().nullable() })),
  paid: z
    .array(z.object({ product: z.string(), team: z.string(), until: instant }))
    .describe('Products whose day is already paid (an open usage session) through a team that cannot pay another: until the session ends'),
});

export const healthResponse = z.object({ ok: z.literal(true), engine: z.enum(['sqlite', 'postgres']) });
const jwk = z.looseObject({ kty: z.string(), kid: z.string().optional(), crv: z.string().optional(), x: z.string().optional() });
export const jwksResponse = z.object({ keys: z.array(jwk) });
export const rootKeyResponse = jwk;
export const indexResponse = z.object({
  name: z.literal('flexgate'),
  console: z.string(),
  openapi: z.string(),
  jwks: z.string(),
  keySet: z.string(),
  rootKey: z.string(),
  health: z.string(),
});

const day = z.string().describe('A UTC day, YYYY-MM-DD');
export const forecastResponse = z.object({
  team: z.string(),
  at: instant,
  currency: z.string(),
  balance: z.number().int(),
  window: z.object({ from: instant, to: instant, days: z.number().int(), tokens: z.number().int() }),
  dailyBurn: z.number(),
  runsOutOn: z.string(),
  runsOutAt: instant,
  runsOutBy: z.enum(['use', 'expiry', 'empty']),
  smallestRate: z.number().int().nullable(),
  stranded: z.number().int(),
  lots: z.array(
    z.object({
      id: z.string(),
      remaining: z.number().int(),
      expiresAt: instant,
      pricePerToken: money.nullable(),
      used: z.number().int(),
      atRisk: z.number().int(),
    }),
  ),
  atRisk: z.number().int(),
  valueAtRisk: money.nullable(),
  projection: z.array(z.object({ day: z.string(), balance: z.number().int() })),
});
export const adviceResponse = z.object({
  team: z.string(),
  at: instant,
  currency: z.string(),
  year: z.object({ from: instant, to: instant }),
  pricePerToken: z.object({ average: z.number(), basisTokens: z.number().int(), boughtFrom: instant, boughtTo: instant }).nullable(),
  flex: z.array(
    z.object({
      autodeskId: z.string(),
      product: z.string(),
      tokensLastYear: z.number().int(),
      daysLastYear: z.number().int(),
      costLastYear: z.number(),
      subscriptionPricePerYear: money,
      saving: z.number(),
    }),
  ),
  subscriptions: z.array(
    z.object({
      autodeskId: z.string(),
      product: z.string(),
      licenseId: z.string(),
      daysCovered: z.number().int(),
      subscriptionCost: z.number(),
      daysUsed: z.number().int(),
      flexTokens: z.number().int(),
      flexCost: z.number(),
      saving: z.number(),
    }),
  ),
  total: z.object({ flexSaving: z.number(), subscriptionSaving: z.number() }),
});
export const myUsageResponse = z.object({
  autodeskId: z.string(),
  from: instant,
  to: instant,
  rows: z.array(
    z.object({
      day,
      product: z.string(),
      productName: z.string(),
      team: z.string(),
      teamName: z.string(),
      sessions: z.number().int(),
      tokens: z.number().int(),
    }),
  ),
  total: z.object({ tokens: z.number().int(), sessions: z.number().int() }),
});

export const auditEntryResponse = z.object({
  id: z.number().int(),
  at: instant,
  team: z.string().nullable(),
  actor: z.string().describe('operator, admin:<id>, console:<admin id> or user:<Autodesk ID>'),
  action: z.string().describe('A stable dotted name, e.g. member.invited'),
  target: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
});

// ---- each schema says what its interface says (a failing line here names the drift) ----------
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
/** Never used as a value: the type fails to compile when a schema and its interface differ. */
export type ResponseSchemasMatch = [
  Holds<Same<z.infer<typeof productResponse>, Product>>,
  Holds<Same<z.infer<typeof lotResponse>, LotView>>,
  Holds<Same<Omit<z.infer<typeof balanceResponse>, 'alerts'>, BalanceResponse>>,
  Holds<Same<z.infer<typeof ledgerEntryResponse>, LedgerEntry>>,
  Holds<Same<z.infer<typeof transferResponse>, TransferResponse>>,
  Holds<Same<z.infer<typeof memberResponse>, MemberView>>,
  Holds<Same<z.infer<typeof addMemberResponse>, AddMemberResponse>>,
  Holds<Same<z.infer<typeof defaultsResponse>, DefaultsView>>,
  Holds<Same<z.infer<typeof importResponse>, ImportResult>>,
  Holds<Same<z.infer<typeof invitationsSentResponse>, InvitationsSent>>,
  Holds<Same<z.infer<typeof forecastResponse>, ForecastResponse>>,
  Holds<Same<z.infer<typeof adviceResponse>, AdviceResponse>>,
  Holds<Same<z.infer<typeof myUsageResponse>, MyUsageResponse>>,
  Holds<Same<z.infer<typeof auditEntryResponse>, AuditEntryView>>,
  Holds<Same<z.infer<typeof accessResponse>, AccessExplanation>>,
  Holds<Same<z.infer<typeof invitationAcceptedResponse>, InvitationAccepted>>,
  Holds<Same<z.infer<typeof outboxMessageResponse>, OutboxMessage>>,
  Holds<Same<z.infer<typeof usageResponse>, UsageResponse>>,
  Holds<Same<z.infer<typeof usageSummaryResponse>, UsageSummary>>,
  Holds<Same<z.infer<typeof launchResponse>, LaunchResponse>>,
  Holds<Same<z.infer<typeof launchPreviewResponse>, LaunchPreview>>,
  Holds<Same<z.infer<typeof sessionEndResponse>, SessionEndResponse>>,
  Holds<Same<z.infer<typeof offlineAllowanceResponse>, OfflineAllowanceResponse>>,
];
