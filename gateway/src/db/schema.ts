import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The database as Kysely sees it. Instants are ISO-8601 UTC strings (`toISOString()`), which sort
 * as text and mean the same on SQLite and PostgreSQL; booleans are 0/1 integers for the same reason.
 */
export interface DB {
  products: ProductsTable;
  teams: TeamsTable;
  accounts: AccountsTable;
  admins: AdminsTable;
  admin_teams: AdminTeamsTable;
  licenses: LicensesTable;
  members: MembersTable;
  member_products: MemberProductsTable;
  team_defaults: TeamDefaultsTable;
  invitations: InvitationsTable;
  lots: LotsTable;
  usage_month: UsageMonthTable;
  usage_folds: UsageFoldsTable;
  license_days: LicenseDaysTable;
  ledger: LedgerTable;
  ledger_heads: LedgerHeadsTable;
  usage_sessions: UsageSessionsTable;
  session_machines: SessionMachinesTable;
  idempotency_keys: IdempotencyTable;
  signing_keys: SigningKeysTable;
  outbox: OutboxTable;
  team_alerts: TeamAlertsTable;
  usage_day_product: UsageDayProductTable;
  usage_day_user: UsageDayUserTable;
  console_sessions: ConsoleSessionsTable;
  access_epoch: AccessEpochTable;
  root_key: RootKeyTable;
  key_set: KeySetTable;
  signin_failures: SigninFailuresTable;
  refresh_tokens: RefreshTokensTable;
  token_revocations: TokenRevocationsTable;
  offline_allowances: OfflineAllowancesTable;
  audit_log: AuditLogTable;
}

/** The append-only audit trail (migration 018, domain/audit.ts). */
export interface AuditLogTable {
  id: Generated<number>;
  team_id: string | null;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  request_id: string | null;
}

/** One refresh token, by the hash of its secret (migration 012, domain/refresh.ts). */
export interface RefreshTokensTable {
  token_hash: string;
  family: string;
  autodesk_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /**
   * The seq of the last revocation of the user that its sign-in came after (0: none); a user
   * revocation with a greater seq ends it. Null in rows from before migration 024: judged by time.
   */
  signed_in_after: number | null;
}

export interface TokenRevocationsTable {
  seq: Generated<number>;
  kind: 'family' | 'user';
  subject: string;
  at: string;
}

/** Failed sign-ins per Autodesk ID (migration 011, domain/signin.ts). */
export interface SigninFailuresTable {
  autodesk_id: string;
  failures: number;
  last_failure_at: string;
  retry_at: string | null;
}

/**
 * An offline allowance as issued (migration 014); `products` is its JSON list of {product, team},
 * with `until` on those listed for a day already paid for (the claim `paid`).
 */
export interface OfflineAllowancesTable {
  id: string;
  autodesk_id: string;
  machine: string | null;
  issued_at: string;
  expires_at: string;
  launches: number;
  products: string;
}

/** One row; bumped by trigger on every change to the tables access is decided from (migration 006). */
export interface AccessEpochTable {
  id: number;
  v: number;
}

export interface ProductsTable {
  key: string;
  name: string;
  daily_rate: number;
  added_at: string;
  /** Migration 019: a single-user subscription's price per year, minor units of FLEXGATE_CURRENCY. */
  subscription_price_per_year: number | null;
}

export interface TeamsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface AccountsTable {
  autodesk_id: string;
  name: string;
  password_hash: string;
  created_at: string;
}

export interface AdminsTable {
  id: string;
  name: string;
  email: string;
  key_hash: string;
  created_at: string;
}

export interface AdminTeamsTable {
  admin_id: string;
  team_id: string;
}

/** Single-user subscriptions and trials: both grant one Autodesk ID one product for a period (R9). */
export interface LicensesTable {
  id: string;
  kind: 'subscription' | 'trial';
  autodesk_id: string;
  product_key: string;
  starts_at: string;
  ends_at: string;
  created_at: string;
}

export interface MembersTable {
  team_id: string;
  autodesk_id: string;
  name: string;
  /** 027: `searchFold(name)`, what the member search matches; written with every name. */
  name_fold: string;
  guest: number;
  all_products: number;
  /** `active`, or `invited` until the invitation is accepted (expiry is derived from the invitation). */
  status: 'active' | 'invited';
  created_at: string;
}

export interface MemberProductsTable {
  team_id: string;
  autodesk_id: string;
  product_key: string;
}

export interface TeamDefaultsTable {
  team_id: string;
  product_key: string;
}

export interface InvitationsTable {
  id: string;
  team_id: string;
  autodesk_id: string;
  token_hash: string;
  expires_at: string;
  accepted_at: string | null;
  /** Set when a resend replaces this invitation: its token is dead from then on. */
  superseded_at: string | null;
  created_at: string;
  /** 024: when its e-mail was written to the outbox; null: never (an import's, R14). */
  emailed_at: string | null;
}

export interface LotsTable {
  id: string;
  team_id: string;
  tokens: number;
  remaining: number;
  purchased_at: string;
  expires_at: string;
  /** For a lot made by a transfer (R3): the lot its tokens came from. */
  origin_lot_id: string | null;
  created_at: string;
  /** Migration 019: what one token of this lot cost, minor units of FLEXGATE_CURRENCY (a transferred part keeps it). */
  price_per_token: number | null;
}

export interface LedgerTable {
  id: Generated<number>;
  team_id: string;
  lot_id: string;
  kind: 'purchase' | 'charge' | 'refund' | 'transfer-out' | 'transfer-in' | 'expiry';
  /** Signed change of the lot's remaining tokens. */
  delta: number;
  at: string;
  actor: string;
  autodesk_id: string | null;
  product_key: string | null;
  session_id: string | null;
  reason: string;
  /** The hash chain (migration 017, docs/ledger.md): the team's previous entry's `hash`, and this one's. */
  prev_hash: string;
  hash: string;
}

/**
 * The end of each team's hash chain (migration 017). Every ledger append locks its team's row
 * first (PostgreSQL) and moves it in the same transaction, so one team's entries chain in commit order.
 */
export interface LedgerHeadsTable {
  team_id: string;
  last_id: number;
  last_hash: string;
  count: number;
}

export interface UsageSessionsTable {
  id: string;
  autodesk_id: string;
  product_key: string;
  /** 1, 2, 3... per (autodesk_id, product_key): the unique key that makes R7 exactly-once. */
  seq: number;
  team_id: string;
  starts_at: string;
  ends_at: string;
  rate: number;
  charged: number;
  refunded: number;
  ended_at: string | null;
  last_seen_at: string;
  machine: string | null;
  provisional_id: string | null;
  /** The session's entitlement: a lease until the day is settled, then to the session's end (R7a). */
  entitlement: string;
  entitlement_exp: string;
  /** Migration 013: when the day was settled (no refund from then on); null within the free window. */
  settled_at: string | null;
}

/** Migration 013: the machines that used a session within its free window (R7a); the opener has a row once it closed or came back. */
export interface SessionMachinesTable {
  session_id: string;
  /** '' for an unnamed machine. */
  machine: string;
  /** When it closed the product within the window; null while it uses the session. */
  ended_at: string | null;
}

export interface IdempotencyTable {
  scope: string;
  key: string;
  fingerprint: string;
  status: number;
  body: string;
  created_at: string;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  created_at: string;
  /** When a newer key took over signing; the key stays in the JWKS until `drop_after`. */
  retired_at: string | null;
  drop_after: string | null;
  /** Withdrawn by the operator: out of the JWKS and the key set at once, its kid listed as revoked. */
  revoked_at: string | null;
}

/** The root key that signs the key set (migration 010); one row, absent when FLEXGATE_ROOT_KEY_FILE gives it. */
export interface RootKeyTable {
  id: number;
  kid: string;
  public_jwk: string;
  private_jwk: string;
  created_at: string;
}

/** One row: the key set's version, bumped by every rotation and revocation. */
export interface KeySetTable {
  id: number;
  version: number;
}

export interface OutboxTable {
  id: Generated<number>;
  to_addr: string;
  subject: string;
  text: string;
  kind: string;
  created_at: string;
  sent_at: string | null;
  attempts: number;
  last_error: string | null;
  /** 002: when the sender may try next (backoff after a failure, a lease while sending); null = now. */
  next_attempt_at: string | null;
  /** 026: the mailbox the e-mail reaches (`mailboxOf(to_addr)`), what the per-recipient caps count by; null only in a row an older gateway wrote. */
  mailbox: string | null;
}

export interface TeamAlertsTable {
  team_id: string;
  kind: string;
  /** Identifies one crossing (e.g. the lot expiring), so an alert is sent once per crossing (R19). */
  marker: string;
  sent_at: string;
}

/** 003: an admin console browser session; the cookie holds the id, the table its hash. */
export interface ConsoleSessionsTable {
  id_hash: string;
  admin_id: string;
  /** The session's CSRF token, echoed by every form. */
  csrf: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export type LotRow = Selectable<LotsTable>;
export type SessionRow = Selectable<UsageSessionsTable>;
export type NewLedgerEntry = Insertable<LedgerTable>;

/** Daily usage rollups (migration 005), folded from the ledger (migration 021, db/repos/usage-fold.ts). */
export interface UsageDayProductTable {
  team_id: string;
  day: string;
  product_key: string;
  tokens: number;
  sessions: number;
}

export interface UsageDayUserTable {
  team_id: string;
  day: string;
  autodesk_id: string;
  tokens: number;
  sessions: number;
}

/** Tokens by (team, month, user, product), folded from the ledger (migrations 019, 021; db/repos/usage-fold.ts). */
export interface UsageMonthTable {
  team_id: string;
  /** `2026-03`: the UTC month the usage counts in (a refund in its charge's month). */
  month: string;
  autodesk_id: string;
  product_key: string;
  tokens: number;
  sessions: number;
}

/** How far each team's ledger is folded into the usage rollups (migration 021): its last entry folded in. */
export interface UsageFoldsTable {
  team_id: string;
  folded_id: number;
}

/** The UTC days a subscription or trial was launched (migration 019). */
export interface LicenseDaysTable {
  license_id: string;
  day: string;
}
