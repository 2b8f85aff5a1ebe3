import type { TestGateway } from './gateway';

export interface ConsolePage {
  status: number;
  /** Where a 303 sends the browser. */
  location: string | null;
  html: string;
  headers: Headers;
}

/** An admin signed in to the console over plain HTTP: the session cookie, and each form's CSRF token. */
export interface ConsoleBrowser {
  get(path: string, headers?: Record<string, string>): Promise<ConsolePage>;
  /** Posts a form the way the page does, with the session's CSRF token unless `_csrf` is given. */
  post(path: string, fields: Record<string, string | string[]>): Promise<ConsolePage>;
  /** Posts a multipart form (a file upload) the same way, with the session's CSRF token. */
  upload(path: string, fields: Record<string, string | File>): Promise<ConsolePage>;
  csrf: string;
}

const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';

/** `&amp;` and friends back to text: what a browser reads in an attribute or a cell. */
export const unescapeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The part of a page from `open` to the first `close` after it; '' when `open` is not there. */
export function between(html: string, open: string, close: string): string {
  const at = html.indexOf(open);
  return at < 0 ? '' : html.slice(at, html.indexOf(close, at));
}

/** Markup as a reader takes it in: tags dropped (before the text is unescaped), spaces collapsed. */
export const textOf = (html: string) =>
  unescapeHtml(html.replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();

/** A page's lead paragraph, in words. */
export const leadOf = (html: string) => textOf(between(html, '<p class="lead">', '</p>'));

export async function consoleSignIn(gw: TestGateway, adminKey: string): Promise<ConsoleBrowser> {
  const form = await fetch(`${gw.url}/console/signin`);
  const signinCookie = (form.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const signed = await fetch(`${gw.url}/console/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: signinCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: field(await form.text(), '_csrf'), key: adminKey }).toString(),
  });
  if (signed.status !== 303) throw new Error(`console sign-in answered ${signed.status}`);
  const cookie = (signed.headers.getSetCookie().find((c) => c.startsWith('fg_console=')) ?? '').split(';')[0] as string;
  const answer = async (r: Response): Promise<ConsolePage> => ({
    status: r.status,
    location: r.headers.get('location'),
    html: await r.text(),
    headers: r.headers,
  });
  const get = async (path: string, headers: Record<string, string> = {}) =>
    answer(await fetch(`${gw.url}${path}`, { headers: { ...headers, cookie }, redirect: 'manual' }));
  const csrf = field((await get('/console/inspect')).html, '_csrf');
  return {
    csrf,
    get,
    async upload(path, fields) {
      const body = new FormData();
      body.append('_csrf', csrf);
      for (const [k, v] of Object.entries(fields)) body.append(k, v);
      return answer(await fetch(`${gw.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie }, body }));
    },
    async post(path, fields) {
      const body = new URLSearchParams();
      if (!('_csrf' in fields)) body.append('_csrf', csrf);
      for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
      const r = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      });
      return answer(r);
    },
  };
}

/** The hidden per-form key a page hands its form (a purchase or a move submitted twice counts once). */
export const formKey = (html: string) => field(html, 'idem');
