import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env';
import { problemResponse } from './problem';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A JSON `\u0000` escape that is not itself escaped (`\\u0000` is a backslash and text). */
const JSON_NUL = /(?<!\\)(?:\\\\)*\\u0000/;

/**
 * Input the validators cannot see, refused before any route runs:
 * - bodies that are not valid UTF-8: the JSON and CSV readers would replace bad bytes with U+FFFD
 *   and the request would go through with text the client never sent;
 * - NUL characters, in the body or the URL: PostgreSQL cannot store them in text (a 500 there,
 *   while SQLite stores them), and no name, e-mail or key has one.
 * The body is read once here (after the body limit) and its text handed to Hono's body cache, so
 * the validator's `json()` and the CSV import's `text()` parse it without reading it again. Left
 * as bytes only, Hono would rebuild a web Response around them to get the text: a web stream per
 * request, which cost more than the warm launch itself (BENCHMARKS.md).
 */
/** No NUL character, raw or as a JSON `\u0000` escape. */
export function isNulFree(text: string): boolean {
  return !(text.includes('\u0000') || (text.includes('\\u0000') && JSON_NUL.test(text)));
}

export function strictUtf8Body(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (/%00/i.test(c.req.url)) return problemResponse(c, 'invalid-request', 'NUL characters are not accepted.');
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'OPTIONS') return next();
    const type = c.req.header('content-type') ?? '';
    if (!type.includes('json') && !type.startsWith('text/')) return next();
    const bytes = await c.req.arrayBuffer();
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return problemResponse(c, 'invalid-request', 'The request body is not valid UTF-8.');
    }
    if (!isNulFree(text)) {
      return problemResponse(c, 'invalid-request', 'NUL characters are not accepted.');
    }
    // Hono keeps promises in its body cache, whatever its type says.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    return next();
  };
}
