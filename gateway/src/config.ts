import { z } from 'zod';

const flag = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'on' || v === 'yes');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .default('sqlite:./data/flexgate.db')
    .refine((u) => u.startsWith('sqlite:') || u.startsWith('postgres://') || u.startsWith('postgresql://'), {
      message: 'must be sqlite:PATH, sqlite::memory: or postgres://...',
    }),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  FLEXGATE_OPERATOR_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  FLEXGATE_TEST_CLOCK: flag.default(false),
  FLEXGATE_RATE_LIMIT: z.enum(['on', 'off']).default('on'),
  /**
   * Rate limits, in requests per minute (token buckets: a burst of that many, refilled evenly).
   * The defaults sit far above any real use: a product relaunches a few times a minute, an office
   * of a few hundred people signs in from one address at 9 am. They stop password guessing and
   * floods, not people.
   */
  FLEXGATE_RATE_SIGNIN_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(10),
  FLEXGATE_RATE_SIGNIN_PER_IP: z.coerce.number().int().min(1).max(1_000_000).default(300),
  FLEXGATE_RATE_LAUNCH_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(120),
  FLEXGATE_RATE_LAUNCH_PER_IP: z.coerce.number().int().min(1).max(1_000_000).default(3000),
  /** A scrape-only bearer token for GET /metrics; without it /metrics answers loopback peers and the operator. */
  FLEXGATE_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  FLEXGATE_ISSUER: z.string().min(1).default('flexgate'),
  FLEXGATE_ID_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 86400)
    .default(12 * 3600),
  /** `normal` survives a process crash (WAL); `full` also survives power loss, at a cost per write. */
  FLEXGATE_SQLITE_SYNC: z.enum(['normal', 'full']).default('normal'),
  /** scrypt cost parameter N; lower only for tests and benchmarks that create thousands of accounts. */
  FLEXGATE_SCRYPT_N: z.coerce
    .number()
    .int()
    .refine((n) => n >= 1024 && (n & (n - 1)) === 0, { message: 'must be a power of two >= 1024' })
    .default(16384),
  FLEXGATE_LOG: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  FLEXGATE_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** The member import (R14) takes up to 10,000 CSV rows: a larger limit for that one route. */
  FLEXGATE_IMPORT_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .default(5 * 1024 * 1024),
  /** smtp://host:port (or smtps://user:pass@host) for the background mail sender; unset: mail stays in the outbox. */
  SMTP_URL: z
    .string()
    .refine((u) => /^smtps?:\/\//.test(u), { message: 'must be smtp://... or smtps://...' })
    .optional(),
  FLEXGATE_MAIL_FROM: z.string().min(3).default('Autodesk Flex (flexgate) <no-reply@flexgate.local>'),
  /** N worker processes sharing the port through node:cluster (`--cluster N` sets it too); 0: one plain process. */
  FLEXGATE_CLUSTER: z.coerce.number().int().min(0).max(64).default(0),
  /** Decided warm launches kept in memory per process (services/warm-launches.ts); 0 turns the cache off. */
  FLEXGATE_LAUNCH_CACHE: z.coerce.number().int().min(0).max(10_000_000).default(50_000),
  /** Most charges committed in one transaction (launch/charges.ts); 1 commits every charge alone. */
  FLEXGATE_CHARGE_GROUP: z.coerce.number().int().min(1).max(10_000).default(256),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  readonly operatorKey: string | undefined;
  readonly testClock: boolean;
  readonly rateLimit: boolean;
  /** Requests per minute per key (see FLEXGATE_RATE_*). */
  readonly rateLimits: RateLimits;
  readonly metricsToken: string | undefined;
  readonly issuer: string;
  readonly idTokenTtlSeconds: number;
  readonly sqliteSync: 'normal' | 'full';
  readonly scryptN: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly bodyLimit: number;
  readonly importBodyLimit: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** Worker processes for `--cluster N`; 0 runs the gateway in this process. */
  readonly cluster: number;
  /** Entries of the warm-launch cache; 0: every launch decides from the database. */
  readonly launchCache: number;
  /** Most charges in one group transaction; 1: each charge alone. */
  readonly chargeGroup: number;
}

export interface RateLimits {
  readonly signinPerUser: number;
  readonly signinPerIp: number;
  readonly launchPerUser: number;
  readonly launchPerIp: number;
}

export class ConfigError extends Error {}

/** Parses the environment once; nothing else in the gateway reads `process.env`. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    operatorKey: e.FLEXGATE_OPERATOR_KEY,
    testClock: e.FLEXGATE_TEST_CLOCK,
    rateLimit: e.FLEXGATE_RATE_LIMIT === 'on',
    rateLimits: Object.freeze({
      signinPerUser: e.FLEXGATE_RATE_SIGNIN_PER_USER,
      signinPerIp: e.FLEXGATE_RATE_SIGNIN_PER_IP,
      launchPerUser: e.FLEXGATE_RATE_LAUNCH_PER_USER,
      launchPerIp: e.FLEXGATE_RATE_LAUNCH_PER_IP,
    }),
    metricsToken: e.FLEXGATE_METRICS_TOKEN,
    issuer: e.FLEXGATE_ISSUER,
    idTokenTtlSeconds: e.FLEXGATE_ID_TOKEN_TTL,
    sqliteSync: e.FLEXGATE_SQLITE_SYNC,
    scryptN: e.FLEXGATE_SCRYPT_N,
    logLevel: e.FLEXGATE_LOG,
    bodyLimit: e.FLEXGATE_BODY_LIMIT,
    importBodyLimit: e.FLEXGATE_IMPORT_BODY_LIMIT,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.FLEXGATE_MAIL_FROM,
    cluster: e.FLEXGATE_CLUSTER,
    launchCache: e.FLEXGATE_LAUNCH_CACHE,
    chargeGroup: e.FLEXGATE_CHARGE_GROUP,
  });
}

/** Defaults for in-process use (tests, the demo), overridable field by field. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}), ...overrides });
}
