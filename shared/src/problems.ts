/** Every `code` a problem+json answer may carry, with its HTTP status (docs/http.md, "Errors"). */
export const PROBLEM_STATUS = {
  'invalid-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'too-many-requests': 429,
  'no-access': 403,
  'insufficient-tokens': 403,
  'invitation-pending': 403,
  'unknown-product': 404,
  'offline-not-allowed': 403,
  'internal-error': 500,
  'service-unavailable': 503,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

/** Codes with which a launch is refused; a client shows their `detail` to the person. */
export const LAUNCH_REFUSAL_CODES = ['no-access', 'insufficient-tokens', 'invitation-pending', 'unknown-product'] as const;
export type LaunchRefusalCode = (typeof LAUNCH_REFUSAL_CODES)[number];

export const PROBLEM_TITLES: Record<ProblemCode, string> = {
  'invalid-request': 'Invalid request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  conflict: 'Conflict',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'too-many-requests': 'Too many requests',
  'no-access': 'No access to this product',
  'insufficient-tokens': 'Not enough Flex tokens',
  'invitation-pending': 'Invitation not accepted',
  'unknown-product': 'Unknown product',
  'offline-not-allowed': 'Offline use not allowed',
  'internal-error': 'Internal error',
  'service-unavailable': 'Service unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail: string;
  /** Echoes the request id of the log lines that describe this answer. */
  requestId?: string;
  /** The number of the rule (docs/rules.md) that refused: R4, R9, R11, R12 or R13. For programs; never shown as text. */
  rule?: string;
  /** Field-level messages for `invalid-request`. */
  errors?: { path: string; message: string }[];
}

export function problemType(code: ProblemCode): string {
  return `urn:flexgate:problem:${code}`;
}

export function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Problem).code === 'string' &&
    typeof (value as Problem).status === 'number'
  );
}
