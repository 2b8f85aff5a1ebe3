import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../domain/errors';
import { PasswordPool, type PasswordPoolOptions, PoolBusy } from './password-pool';

const KEY_LEN = 32;

/** Password hashing for one scrypt cost, on a pool of its own threads (password-pool.ts). */
export interface Passwords {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
  /** As slow as `verify` against an account's hash, for an account that does not exist. */
  verifyNone(password: string): Promise<false>;
}

/** One pool per process and setting: apps built in one process (tests, cluster of one) share threads. */
const pools = new Map<string, PasswordPool>();
function poolFor(o: PasswordPoolOptions): PasswordPool {
  const key = `${o.threads}/${o.queue}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new PasswordPool(o);
    pools.set(key, pool);
  }
  return pool;
}

export function passwords(N: number, pool: PasswordPoolOptions): Passwords {
  const threads = poolFor(pool);
  const derive = (password: string, salt: Buffer, cost: number) =>
    threads.derive(password, salt, cost, KEY_LEN).catch((error: unknown) => {
      if (!(error instanceof PoolBusy)) throw error;
      throw new DomainError('service-unavailable', `Too many sign-ins at once; retry in ${error.retryAfterSeconds} s.`, {
        retryAfterSeconds: error.retryAfterSeconds,
      });
    });
  /** `scrypt$N$salt$hash`: the cost travels with the hash, so it can be raised later. */
  const hash = async (password: string) => {
    const salt = randomBytes(16);
    const key = await derive(password, salt, N);
    return `scrypt$${N}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  };
  const verify = async (password: string, stored: string) => {
    const [scheme, n, salt, expected] = stored.split('$');
    if (scheme !== 'scrypt' || !n || !salt || !expected) return false;
    const want = Buffer.from(expected, 'base64url');
    const key = await derive(password, Buffer.from(salt, 'base64url'), Number(n));
    return key.length === want.length && timingSafeEqual(key, want);
  };
  // An unknown Autodesk ID costs one scrypt too, so the answer's timing does not tell which accounts exist.
  let dummy: Promise<string> | undefined;
  const verifyNone = async (password: string): Promise<false> => {
    dummy ??= hash('not-a-real-password');
    await verify(password, await dummy);
    return false;
  };
  return { hash, verify, verifyNone };
}
