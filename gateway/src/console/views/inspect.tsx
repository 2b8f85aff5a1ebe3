import type { FC } from 'hono/jsx';
import type { Inspection } from '../inspect';
import { instant, relative } from './format';
import { Badge, Csrf } from './layout';

const Json: FC<{ value: unknown }> = ({ value }) => <pre class="json">{JSON.stringify(value, null, 2)}</pre>;

export const InspectView: FC<{ csrf: string; action: string; input: string; result: Inspection | null; now: string }> = ({
  csrf,
  action,
  input,
  result,
  now,
}) => (
  <>
    <h1>Entitlement inspector</h1>
    <p class="lead">
      Paste an entitlement (the <code>entitlement</code> of a launch answer). The console decodes it and checks its signature against this
      gateway's published keys (<a href="/.well-known/jwks.json">JWKS</a>), as a product does offline.
    </p>
    <form method="post" action={action} class="panel stack">
      <Csrf token={csrf} />
      <label class="field">
        <span>Entitlement (compact JWS)</span>
        <textarea name="jws" rows={5} spellcheck={false} autocomplete="off" required placeholder="eyJhbGciOiJFZERTQSIs...">
          {input}
        </textarea>
      </label>
      <div>
        <button type="submit" class="btn primary">
          Inspect
        </button>
      </div>
    </form>
    {result === null ? null : !result.ok ? (
      <p class="banner err" role="alert">
        {result.error}
      </p>
    ) : (
      <section class="inspection" aria-label="Inspection">
        <div class={`verdict ${result.signature.ok ? 'ok' : 'err'}`} data-testid="signature">
          <strong>{result.signature.ok ? 'Signature valid' : 'Signature INVALID'}</strong>
          <span>{result.signature.detail}</span>
        </div>
        <div class="cards">
          <div class="card">
            <div class="card-label">Expires</div>
            <div class="card-value small">{result.expiresAt ? instant(result.expiresAt) : '—'}</div>
            <div class="card-note">
              {result.expiresAt ? (
                result.expired ? (
                  <Badge kind="err">{`expired ${relative(result.expiresAt, now)}`}</Badge>
                ) : (
                  <Badge kind="ok">{`valid, expires ${relative(result.expiresAt, now)}`}</Badge>
                )
              ) : (
                'no exp claim'
              )}
            </div>
          </div>
          <div class="card">
            <div class="card-label">Issued</div>
            <div class="card-value small">{result.issuedAt ? instant(result.issuedAt) : '—'}</div>
            <div class="card-note">{result.issuedAt ? relative(result.issuedAt, now) : 'no iat claim'}</div>
          </div>
        </div>
        <table class="checks-table">
          <tbody>
            {[result.signature, ...result.checks].map((c) => (
              <tr>
                <th>{c.label}</th>
                <td>{c.ok ? <Badge kind="ok">pass</Badge> : <Badge kind="err">fail</Badge>}</td>
                <td>{c.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="split">
          <section>
            <h2>Header</h2>
            <Json value={result.header} />
          </section>
          <section>
            <h2>Claims</h2>
            <Json value={result.claims} />
          </section>
        </div>
      </section>
    )}
  </>
);
