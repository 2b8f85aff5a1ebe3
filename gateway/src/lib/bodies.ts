import type { Context, TypedResponse } from 'hono';

/**
 * A long body made in steps (a turn of the event loop between them), each step's text encoded as
 * it is made and the whole copied once at the end: a string of megabytes would be flattened,
 * measured and encoded in one turn when the answer is written.
 */
export async function bytesOf(steps: AsyncIterable<string>): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Buffer[] = [];
  for await (const text of steps) parts.push(Buffer.from(text));
  return Buffer.concat(parts);
}

/** The text `JSON.stringify` gives of the arrays one after the other, written an array at a time. */
export async function* jsonArraySteps(arrays: AsyncIterable<readonly unknown[]>): AsyncGenerator<string> {
  let first = true;
  for await (const a of arrays) {
    if (a.length === 0) continue;
    yield (first ? '[' : ',') + JSON.stringify(a).slice(1, -1);
    first = false;
  }
  yield first ? '[]' : ']';
}

/** A JSON answer whose bytes were written already: the bytes and content type `c.json` gives of the value they encode. */
export const jsonBytes = <T>(c: Context, bytes: Uint8Array<ArrayBuffer>) =>
  c.body(bytes, 200, { 'content-type': 'application/json' }) as unknown as Response & TypedResponse<T, 200, 'json'>;
