import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { WEBHOOK_TIMEOUT_MS, webhookAddressRefusal } from '@roadmap/contracts';
import { Webhook } from 'standardwebhooks';

/*
 * Connections are kept alive and reused per endpoint: most deliveries go to few endpoints, and a new
 * TCP (and TLS) handshake per delivery would cost more than the delivery. The address check runs when
 * a connection is made, which is when an address is chosen. Sockets per endpoint are not capped here:
 * the delivery consumer's concurrency already bounds requests in flight, and a cap below it made
 * deliveries to one busy endpoint queue inside the agent (64 sockets for 128 slots halved the rate
 * to the bench's receiver, every attempt timed at twice the endpoint's answer time).
 */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

/**
 * POSTs one signed delivery (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).
 * The address is checked when the socket connects (the `lookup` hook), so a host that resolved to a
 * public address at registration and to a private one now (DNS rebinding) is refused; redirects are
 * not followed (a 3xx is a failure); the whole exchange is bounded by WEBHOOK_TIMEOUT_MS. 2xx is success.
 */
export function sendWebhook(target: { url: string; secret: string; deliveryId: string; body: string }, allowPrivate: boolean, now = new Date()): Promise<SendResult> {
  const started = performance.now();
  const signature = new Webhook(target.secret).sign(target.deliveryId, now, target.body);
  const url = new URL(target.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const lookup = (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      const refused = list.map((a) => webhookAddressRefusal(a.address, allowPrivate)).find((r) => r !== null);
      if (refused) return callback(Object.assign(new Error(`refused: ${refused}`), { code: 'WEBHOOK_ADDRESS_FORBIDDEN' }), '');
      if (options.all) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    });
  };
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (result: Omit<SendResult, 'latencyMs'>) => {
      clearTimeout(timer);
      resolve({ ...result, latencyMs: Math.round(performance.now() - started) });
    };
    // An IP literal is connected to without a lookup: checked here, as the lookup hook checks names.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    const refusal = isIP(literal) ? webhookAddressRefusal(literal, allowPrivate) : null;
    if (refusal) return done({ ok: false, statusCode: null, error: `refused: ${refusal}` });
    const req = request(
      url,
      {
        method: 'POST',
        lookup,
        agent: url.protocol === 'https:' ? agents.https : agents.http,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'roadmap-webhooks/1',
          'webhook-id': target.deliveryId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
      },
      (res: IncomingMessage) => {
        res.resume(); // the body is not read: only the status matters
        res.on('end', () => done({ ok: res.statusCode! >= 200 && res.statusCode! < 300, statusCode: res.statusCode ?? null, error: null }));
        res.on('error', (error) => done({ ok: false, statusCode: res.statusCode ?? null, error: error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      const message = error.name === 'TimeoutError' ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s` : error.message;
      done({ ok: false, statusCode: null, error: message });
    });
    // One timer for the whole exchange (an AbortSignal per request cost a timer and listeners more).
    timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), WEBHOOK_TIMEOUT_MS);
    req.end(target.body);
  });
}
