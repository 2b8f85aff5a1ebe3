import { randomBytes } from 'node:crypto';
import type { TestGateway } from './gateway';
import { type Answer, type Api, expectStatus } from './http';

const unique = () => randomBytes(4).toString('hex');

/** A team admin managing `teams`, calling with its own key. */
export async function newAdmin(gw: TestGateway, teams: string[]): Promise<{ id: string; email: string; api: Api }> {
  const email = `admin.${unique()}@example.com`;
  const { id, key } = expectStatus(await gw.op.post('/v1/admins', { name: `Admin ${unique()}`, email, teams }), 201);
  return { id, email, api: gw.anon.as(key) };
}

/** Every e-mail the gateway wrote to `to`, oldest first. */
export async function mailsTo(gw: Pick<TestGateway, 'op'>, to: string): Promise<any[]> {
  return expectStatus(await gw.op.get(`/v1/outbox?to=${encodeURIComponent(to)}`), 200);
}

/** The acceptance token of an invitation e-mail's text: the `token` of its accept page link (R11). */
export function tokenOf(text: string): string {
  const m = /^Link: \S*[?&]token=([^&\s]+)$/m.exec(text);
  if (!m?.[1]) throw new Error(`no token in: ${text}`);
  return decodeURIComponent(m[1]);
}

export const uniqueEmail = (prefix = 'invitee') => `${prefix}.${unique()}@example.com`;

/** Every member of a team, page after page, following the `Link: <...>; rel="next"` headers. */
export async function allMembers(api: Api, team: string, limit?: number): Promise<any[]> {
  const out: any[] = [];
  let path: string | null = `/v1/teams/${team}/members${limit ? `?limit=${limit}` : ''}`;
  while (path) {
    const page: Answer<any[]> = await api.get<any[]>(path);
    out.push(...expectStatus(page, 200));
    path = /^<([^>]+)>; rel="next"$/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
  }
  return out;
}

/** POSTs a CSV file as text/csv. */
export function postCsv(api: Api, path: string, csv: string, headers: Record<string, string> = {}) {
  return api.request('POST', path, csv, { 'content-type': 'text/csv', ...headers });
}

/** Parses the CSV the gateway writes (RFC 4180: quoted fields, CRLF). */
export function parseCsvText(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}
