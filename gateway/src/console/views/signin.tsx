import type { FC } from 'hono/jsx';
import { Page } from './layout';

export const SignInPage: FC<{ csrf: string; error?: string | null; notice?: string | null; next?: string | null }> = ({
  csrf,
  error,
  notice,
  next,
}) => (
  <Page title="Sign in" chrome={{ error: error ?? null, notice: notice ?? null }}>
    <section class="panel signin">
      <h1>Sign in</h1>
      <p class="hint">
        Use the admin key (it starts with <code>fga_</code>) that the platform operator gave you. It is sent once and never shown again.
      </p>
      <form method="post" action="/console/signin" class="stack">
        <input type="hidden" name="_csrf" value={csrf} />
        {next ? <input type="hidden" name="next" value={next} /> : null}
        <label class="field">
          <span>Admin key</span>
          <input type="password" name="key" required autocomplete="current-password" spellcheck={false} maxlength={200} />
        </label>
        <div>
          <button type="submit" class="btn primary">
            Sign in
          </button>
        </div>
      </form>
    </section>
  </Page>
);
