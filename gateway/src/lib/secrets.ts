import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Admin keys carry 256 random bits, so a fast hash is enough to store them (no KDF needed). */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

export function constantTimeEquals(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
