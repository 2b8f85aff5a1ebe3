import type { FC } from 'hono/jsx';
import { INVITATION_PAGE } from '../../domain/mails';
import { humanInstant } from '../../domain/time';
import { Page } from './layout';

export interface InvitationFacts {
  autodeskId: string;
  name: string;
  teamName: string;
  expiresAt: string;
  hasAccount: boolean;
}

/**
 * The page an invitation e-mail links to. The token travels in a hidden field (and the page sends
 * no Referer), so that it leaves the address bar's page only towards this gateway.
 */
export const InvitationPage: FC<{ token: string; csrf: string; facts: InvitationFacts; error?: string | null }> = ({
  token,
  csrf,
  facts,
  error,
}) => (
  <Page title="Invitation" chrome={{ error: error ?? null }}>
    <section class="panel signin">
      <h1>Join {facts.teamName}</h1>
      <p>
        {facts.name}, you are invited to use Autodesk Flex products with team <strong>{facts.teamName}</strong> as{' '}
        <strong>{facts.autodeskId}</strong>.
      </p>
      <p class="hint">The invitation is valid until {humanInstant(facts.expiresAt)}.</p>
      <form method="post" action={INVITATION_PAGE} class="stack">
        <input type="hidden" name="_csrf" value={csrf} />
        <input type="hidden" name="token" value={token} />
        <input type="hidden" name="autodeskId" value={facts.autodeskId} autocomplete="username" />
        {facts.hasAccount ? (
          <label class="field">
            <span>Password of your Autodesk account</span>
            <input type="password" name="password" required autocomplete="current-password" maxlength={1024} />
          </label>
        ) : (
          <>
            <label class="field">
              <span>Choose a password (at least 8 characters)</span>
              <input type="password" name="password" required minlength={8} maxlength={1024} autocomplete="new-password" />
            </label>
            <label class="field">
              <span>Repeat the password</span>
              <input type="password" name="repeat" required minlength={8} maxlength={1024} autocomplete="new-password" />
            </label>
          </>
        )}
        <div class="filter-buttons">
          <button type="submit" name="answer" value="accept" class="btn primary">
            {facts.hasAccount ? 'Sign in and accept' : 'Set password and accept'}
          </button>
          <button type="submit" name="answer" value="decline" class="btn" formnovalidate>
            Decline
          </button>
        </div>
      </form>
    </section>
  </Page>
);

/** What a person sees once they answered, or when the link no longer works. */
export const InvitationDone: FC<{ title: string; message: string; autodeskId?: string }> = ({ title, message, autodeskId }) => (
  <Page title={title} chrome={{}}>
    <section class="panel signin">
      <h1>{title}</h1>
      <p role="status">{message}</p>
      {autodeskId ? (
        <p class="hint">
          Sign in to Autodesk Flex products with <strong>{autodeskId}</strong>, for example <code>flexgate signin</code> on your computer.
        </p>
      ) : null}
    </section>
  </Page>
);
