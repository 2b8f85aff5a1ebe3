import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Admin keys carry 256 random bits, so a fast hash is enough to store them (no KDF needed). */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

export function constantTimeEquals(a: string, b: string): boolean {
  return secretMatcher(b)(a);
}

/**
 * A comparison against one fixed secret, its digest computed once: the request path hashes only
 * what the client sent. Digests of equal length make the comparison's time independent of where
 * the strings differ and of the secret's length.
 */
export function secretMatcher(secret: string): (candidate: string) => boolean {
  const expected = createHash('sha256').update(secret).digest();
  return (candidate) => timingSafeEqual(createHash('sha256').update(candidate).digest(), expected);
}
