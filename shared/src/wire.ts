import type { AccessSource } from './claims';

/** The answer to a granted `POST /v1/launch` (and to a heartbeat). */
export interface LaunchResponse {
  granted: true;
  source: AccessSource;
  /** Tokens charged by this very call; 0 when a session was already open. */
  charged: number;
  session: { id: string; startsAt: string; endsAt: string } | null;
  balance: number | null;
  team: string | null;
  entitlement: string;
  expiresAt: string;
}

export interface SessionEndResponse {
  session: string;
  charged: number;
  refunded: number;
  endedAt: string;
}

export interface Product {
  key: string;
  name: string;
  dailyRate: number;
  addedAt: string;
  /** A single-user subscription's price per year, minor units of the gateway's currency; null: unknown. */
  subscriptionPricePerYear: number | null;
}

export interface LotView {
  id: string;
  tokens: number;
  remaining: number;
  purchasedAt: string;
  expiresAt: string;
  expired: boolean;
  /** What one token of the lot cost, minor units of the gateway's currency; null: not recorded. */
  pricePerToken: number | null;
}

export interface BalanceResponse {
  team: string;
  balance: number;
  lots: LotView[];
}

export type LedgerKind = 'purchase' | 'charge' | 'refund' | 'transfer-out' | 'transfer-in' | 'expiry';

export interface LedgerEntry {
  id: number;
  at: string;
  kind: LedgerKind;
  /** Signed change of the team's balance. */
  tokens: number;
  lotId: string;
  actor: string;
  autodeskId: string | null;
  product: string | null;
  sessionId: string | null;
  reason: string;
  /** The hash of the team's entry before this one (64 zeros for its first): see docs/ledger.md. */
  prevHash: string;
  /** Lowercase hex SHA-256 of `prevHash`, a newline, and this entry's canonical JSON without `hash`. */
  hash: string;
}

/** `POST /v1/offline-allowance`: the signed allowance, and what it says (the client believes only the JWS). */
export interface OfflineAllowanceResponse {
  allowance: string;
  id: string;
  issuedAt: string;
  expiresAt: string;
  launches: number;
  products: { product: string; team: string | null }[];
  /** Products listed for the day already paid for, until its session's end (`until`, an instant). */
  paid: { product: string; team: string; until: string }[];
}

/** `POST /v1/launch` with `dryRun: true`: what the launch would do now; nothing is written. */
export interface LaunchPreview {
  dryRun: true;
  product: string;
  granted: boolean;
  source: 'subscription' | 'trial' | 'flex' | null;
  team: string | null;
  teamName: string | null;
  /** Tokens this launch would charge: the daily rate, or 0 (a session open, or no Flex). */
  charge: number;
  /** The team's balance now, and after this launch (Flex only). */
  balance: number | null;
  balanceAfter: number | null;
  code?: string;
  rule?: string;
  reason: string;
}
