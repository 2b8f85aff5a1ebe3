import type { FC } from 'hono/jsx';
import { type Chrome, Page } from './layout';

export const ErrorPage: FC<{ status: number; message: string; chrome: Chrome }> = ({ status, message, chrome }) => (
  <Page title={`Error ${status}`} chrome={{ ...chrome, tab: undefined }}>
    <section class="panel">
      <h1>
        {status === 403
          ? 'Not allowed'
          : status === 404
            ? 'Not found'
            : status === 503
              ? 'Unavailable for a moment'
              : 'Something went wrong'}
      </h1>
      <p>{message}</p>
      <p>
        <a href="/console">Back to the console</a>
      </p>
    </section>
  </Page>
);
