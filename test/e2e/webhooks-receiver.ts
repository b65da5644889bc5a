import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a test receiver got, and what it answered. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/**
 * A local webhook receiver that answers 500 to the first `failFirst` requests of each webhook-id, then
 * 200, each answer `delayMs` after the request arrived.
 */
export async function receiver(failFirst = 0, delayMs = 0) {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      const answered = n <= failFirst ? 500 : 200;
      received.push({ headers: req.headers, body, answered });
      setTimeout(() => res.writeHead(answered).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => server.close() };
}
