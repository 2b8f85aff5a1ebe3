import type { ProblemCode } from '@flexgate/shared';

/**
 * The one error vocabulary: domain and service code throws these with a contract code, and the
 * HTTP layer's single `onError` turns them into problem+json. `rule` is the number of the rule
 * in docs/rules.md that refused (an API field; the message itself names no rule).
 */
export class DomainError extends Error {
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly extra: { rule?: string; retryAfterSeconds?: number; errors?: { path: string; message: string }[] } = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError('not-found', what);
export const conflict = (what: string) => new DomainError('conflict', what);
export const invalid = (what: string) => new DomainError('invalid-request', what);
export const forbidden = (what: string) => new DomainError('forbidden', what);
