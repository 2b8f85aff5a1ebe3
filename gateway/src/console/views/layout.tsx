import { raw } from 'hono/html';
import { type Child, type FC, Fragment } from 'hono/jsx';
import type { HtmlEscapedString } from 'hono/utils/html';
import { nextTurn } from '../../lib/turns';
import { assetUrl } from '../assets';
import { memberPath, teamPath } from './format';

export interface Chrome {
  /** Absent on the sign-in page. */
  admin?: { name: string; email: string };
  csrf?: string;
  teams?: { id: string; name: string }[];
  team?: { id: string; name: string };
  tab?: 'overview' | 'members' | 'defaults' | 'usage' | 'tokens' | 'spend' | 'advice' | 'audit' | 'inspect';
  notice?: string | null;
  error?: string | null;
}

export const Csrf: FC<{ token: string | undefined }> = ({ token }) => <input type="hidden" name="_csrf" value={token ?? ''} />;

const Tab: FC<{ href: string; active: boolean; children: Child }> = ({ href, active, children }) => (
  <a href={href} class={active ? 'tab active' : 'tab'} aria-current={active ? 'page' : undefined}>
    {children}
  </a>
);

export const Page: FC<{ title: string; chrome: Chrome; children: Child }> = ({ title, chrome, children }) => {
  const t = chrome.team;
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <title>{t ? `${title} · ${t.name} · flexgate` : `${title} · flexgate`}</title>
          <link rel="stylesheet" href={assetUrl('app.css')} />
          <link rel="icon" type="image/svg+xml" href={assetUrl('icon.svg')} />
          <script src={assetUrl('app.js')} defer />
        </head>
        <body>
          {/* The first stop of Tab: past the team switcher, Sign out and the tabs, straight to the page. */}
          <a class="skip-link" href="#main">
            Skip to content
          </a>
          <header class="topbar">
            <div class="topbar-inner">
              <a class="brand" href="/console">
                flexgate <span>console</span>
              </a>
              {chrome.teams && chrome.teams.length > 0 ? (
                <form class="switcher" method="get" action="/console/switch">
                  <label for="team-switch" class="visually-hidden">
                    Team
                  </label>
                  {/* The same page of the other team: an admin comparing teams stays on Usage, Spend... */}
                  {chrome.tab ? <input type="hidden" name="tab" value={chrome.tab} /> : null}
                  <select id="team-switch" name="team" data-autosubmit>
                    {chrome.teams.map((x) => (
                      <option value={x.id} selected={x.id === t?.id}>
                        {x.name}
                      </option>
                    ))}
                  </select>
                  <button type="submit" class="btn small js-hide">
                    Go
                  </button>
                </form>
              ) : null}
              {chrome.admin ? (
                <div class="who">
                  <span class="who-name" title={chrome.admin.email}>
                    {chrome.admin.name}
                  </span>
                  <form method="post" action="/console/signout">
                    <Csrf token={chrome.csrf} />
                    <button type="submit" class="btn small ghost">
                      Sign out
                    </button>
                  </form>
                </div>
              ) : null}
            </div>
          </header>
          {chrome.admin ? (
            <nav class="tabs" aria-label="Console">
              <div class="tabs-inner">
                {t ? (
                  <>
                    <Tab href={teamPath(t.id)} active={chrome.tab === 'overview'}>
                      Overview
                    </Tab>
                    <Tab href={teamPath(t.id, '/members')} active={chrome.tab === 'members'}>
                      Members
                    </Tab>
                    <Tab href={teamPath(t.id, '/defaults')} active={chrome.tab === 'defaults'}>
                      Defaults
                    </Tab>
                    <Tab href={teamPath(t.id, '/usage')} active={chrome.tab === 'usage'}>
                      Usage
                    </Tab>
                    <Tab href={teamPath(t.id, '/tokens')} active={chrome.tab === 'tokens'}>
                      Tokens
                    </Tab>
                    <Tab href={teamPath(t.id, '/spend')} active={chrome.tab === 'spend'}>
                      Spend
                    </Tab>
                    <Tab href={teamPath(t.id, '/advice')} active={chrome.tab === 'advice'}>
                      Advice
                    </Tab>
                    <Tab href={teamPath(t.id, '/audit')} active={chrome.tab === 'audit'}>
                      Audit
                    </Tab>
                  </>
                ) : null}
                <Tab href={t ? `/console/inspect?team=${encodeURIComponent(t.id)}` : '/console/inspect'} active={chrome.tab === 'inspect'}>
                  <span class="wide-only">Entitlement inspector</span>
                  <span class="narrow-only">Inspector</span>
                </Tab>
              </div>
            </nav>
          ) : null}
          <main class="main" id="main" tabindex={-1}>
            {chrome.notice ? (
              <p class="banner ok" role="status">
                {chrome.notice}
              </p>
            ) : null}
            {chrome.error ? (
              <p class="banner err" role="alert">
                {chrome.error}
              </p>
            ) : null}
            {children}
          </main>
        </body>
      </html>
    </>
  );
};

/** A table that scrolls sideways on a narrow screen instead of breaking the page. */
/** Links between the pages of a long list (members, usage by user): back to the first, on to the next. */
export const Pager: FC<{ label: string; first: string | null; next: string | null }> = ({ label, first, next }) =>
  first !== null || next !== null ? (
    <nav class="pager" aria-label={label}>
      {first !== null ? <a href={first}>First page</a> : null}
      {next !== null ? (
        <a href={next} rel="next">
          Next page
        </a>
      ) : null}
    </nav>
  ) : null;

/**
 * A long list's items rendered `step` at a time, a turn of the event loop between steps: the
 * gateway serves every request on one loop, and a 2,000-row table rendered at once held them all.
 */
export async function InTurns<T>({
  items,
  step,
  render,
}: {
  items: readonly T[];
  step: number;
  render: (item: T) => Child;
}): Promise<HtmlEscapedString> {
  const parts: string[] = [];
  for (let i = 0; i < items.length; i += step) {
    if (i > 0) await nextTurn();
    // A JSX node: its toString renders it (a promise when a child is async).
    parts.push(String(await Fragment({ children: items.slice(i, i + step).map(render) }).toString()));
  }
  return raw(parts.join(''));
}

export const TableWrap: FC<{ children: Child; label?: string }> = ({ children, label }) => (
  <section class="table-wrap" aria-label={label} tabindex={0}>
    {children}
  </section>
);

export const Badge: FC<{ kind: 'ok' | 'warn' | 'err' | 'muted' | 'info'; children: Child }> = ({ kind, children }) => (
  <span class={`badge ${kind}`}>{children}</span>
);

/**
 * A person a page names (their name, the Autodesk ID under it), linked to their member page while
 * they are a member. A removed member's history stays but that page is gone: no link, and said so.
 */
export const Person: FC<{ team: string; id: string; name: string | undefined; member: boolean }> = ({ team, id, name, member }) => (
  <>
    {member ? <a href={memberPath(team, id)}>{name || id}</a> : name || id}
    {name ? <div class="sub">{id}</div> : null}
    {member ? null : <div class="sub">no longer a member</div>}
  </>
);
