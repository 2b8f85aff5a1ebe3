import { randomBytes } from 'node:crypto';

/** Opaque, unguessable ids with a readable prefix (`tm_`, `lot_`, `ses_`...). */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}
