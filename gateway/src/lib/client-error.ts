import type { Socket } from 'node:net';
import { KEY_SET_VERSION_HEADER, PROBLEM_TITLES, type Problem, problemType } from '@flexgate/shared';

/**
 * A request Node's HTTP parser refuses before any route sees it (a raw byte outside ASCII in its
 * target, a malformed header, headers past Node's limit): answered as every other refusal is,
 * problem+json with a request id and the key set's version, where Node wrote a bare 400 with no body.
 * The connection is closed after it: the parser cannot tell where the next request would begin.
 */
export function answerClientError(
  error: NodeJS.ErrnoException,
  socket: Socket,
  requestId: string,
  keySetVersion: string | undefined,
): void {
  if (!socket.writable || (error as { code?: string }).code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const problem: Problem = {
    type: problemType('invalid-request'),
    title: PROBLEM_TITLES['invalid-request'],
    status,
    code: 'invalid-request',
    detail: tooLarge
      ? 'The request headers are too large.'
      : 'The request could not be read as HTTP/1.1: a request target must be ASCII (percent-encode other characters), and headers well formed.',
    requestId,
  };
  const body = JSON.stringify(problem);
  const head = [
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    ...(keySetVersion !== undefined ? [`${KEY_SET_VERSION_HEADER}: ${keySetVersion}`] : []),
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
