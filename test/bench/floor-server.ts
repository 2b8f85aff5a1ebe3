/**
 * The floor of a launch on this machine: node:http reading the request and its body and answering
 * a fixed body with the launch lane's headers, nothing else. `ab.ts floor <dir>` sends it the same
 * requests as a gateway (same tokens, same bodies) and it answers with one of that gateway's own
 * warm answers (`FLOOR_BODY`), so the bytes on the wire are the same both ways.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const body = process.env.FLOOR_BODY ?? '{}';
const length = Buffer.byteLength(body);
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': length, 'x-request-id': randomUUID() });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
