import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AuditOrigin } from '../domain/audit';
import type { DomainError } from '../domain/errors';
import type { Actor } from '../services/context';
import type { ConsoleEnv } from './routes';
import type { Chrome } from './views/layout';

export type ConsoleContext = Context<ConsoleEnv>;
type Team = { id: string; name: string };

/** What a group of console pages kept in its own file needs from consoleRoutes. */
export interface ConsoleKit {
  render(c: ConsoleContext, node: Parameters<ConsoleContext['html']>[0], status?: ContentfulStatusCode): Response | Promise<Response>;
  chromeOf(c: ConsoleContext, extra?: Partial<Chrome>): Chrome;
  form(c: ConsoleContext): Promise<Record<string, string | File | (string | File)[]>>;
  field(f: Record<string, unknown>, name: string): string;
  csrfOf(c: ConsoleContext): string;
  /** The signed-in admin, as the services record who acted. */
  adminOf(c: ConsoleContext): Actor;
  /** The audit trail's who: this admin, through the console, in this request. */
  originOf(c: ConsoleContext): AuditOrigin;
  /** The team of the page (the team guard has checked it is the admin's) and all of the admin's teams. */
  team(c: ConsoleContext): Team;
  teams(c: ConsoleContext): Team[];
  statusOf(e: DomainError): ContentfulStatusCode;
}
