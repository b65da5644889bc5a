import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sendWebhook } from './sender.js';
import { notDueForMs, webhookRetryDelayMs } from './webhook.handlers.js';

const SECRET = `whsec_${Buffer.from('a-test-secret-of-24-bytes').toString('base64')}`;

describe(sendWebhook.name, () => {
  let server: Server;
  let base: string;
  const received: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url!, headers: req.headers, body });
        if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        else if (req.url === '/fail') res.writeHead(500).end('no');
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('POSTs the body signed with the Standard Webhooks headers a receiver verifies', async () => {
    const body = JSON.stringify({ type: 'task.completed', timestamp: '2026-12-07T10:00:00.000Z', data: { taskId: 't' } });
    const sut = await sendWebhook({ url: `${base}/ok`, secret: SECRET, deliveryId: 'msg_1', body }, true);
    assert.equal(sut.ok, true);
    assert.equal(sut.statusCode, 204);
    const got = received.at(-1)!;
    assert.equal(got.headers['webhook-id'], 'msg_1');
    assert.deepEqual(new Webhook(SECRET).verify(got.body, got.headers as Record<string, string>), JSON.parse(body));
  });

  it('refuses a private address when connecting unless allowed, and sends nothing', async () => {
    const before = received.length;
    const sut = await sendWebhook({ url: `${base}/ok`, secret: SECRET, deliveryId: 'msg_2', body: '{}' }, false);
    assert.equal(sut.ok, false);
    assert.match(sut.error ?? '', /refused: 127\.0\.0\.1 is a loopback/);
    // A name is checked on the address it resolves to when connecting (DNS rebinding).
    const named = await sendWebhook({ url: base.replace('127.0.0.1', 'localhost') + '/ok', secret: SECRET, deliveryId: 'msg_2b', body: '{}' }, false);
    assert.equal(named.ok, false);
    assert.match(named.error ?? '', /refused: (127\.0\.0\.1|::1) is a loopback/);
    assert.equal(received.length, before);
  });

  it('does not follow redirects and counts non-2xx as failure', async () => {
    const redirected = await sendWebhook({ url: `${base}/redirect`, secret: SECRET, deliveryId: 'msg_3', body: '{}' }, true);
    assert.deepEqual([redirected.ok, redirected.statusCode], [false, 302]);
    assert.ok(!received.some((r) => r.url === '/ok' && r.headers['webhook-id'] === 'msg_3'));
    const failed = await sendWebhook({ url: `${base}/fail`, secret: SECRET, deliveryId: 'msg_4', body: '{}' }, true);
    assert.deepEqual([failed.ok, failed.statusCode], [false, 500]);
  });

  it('reports a refused connection as an error, not a status', async () => {
    const sut = await sendWebhook({ url: 'http://127.0.0.1:1/x', secret: SECRET, deliveryId: 'msg_5', body: '{}' }, true);
    assert.equal(sut.ok, false);
    assert.equal(sut.statusCode, null);
    assert.match(sut.error ?? '', /ECONNREFUSED/);
  });
});

describe(webhookRetryDelayMs.name, () => {
  it('doubles per attempt from the base, with jitter between half and all of it, up to 15 min', () => {
    assert.equal(webhookRetryDelayMs(1, 1000, () => 0), 500);
    assert.equal(webhookRetryDelayMs(1, 1000, () => 0.999999), 1000);
    assert.equal(webhookRetryDelayMs(4, 1000, () => 0.999999), 8000);
    assert.equal(webhookRetryDelayMs(40, 1000, () => 0.999999), 15 * 60_000);
    assert.equal(webhookRetryDelayMs(40, 1000, () => 0), 7.5 * 60_000);
  });
});

describe(notDueForMs.name, () => {
  it('holds a retry that came early until its backoff, and a recent unrecorded first attempt until it cannot still be under way', () => {
    // The message the fan-out queues right after a failed first attempt: the backoff is 500-1000 ms.
    const early = notDueForMs({ attempts: 1, age_ms: 100, since_attempt_ms: 50 }, 1000);
    assert.ok(early >= 450 && early <= 950, `waits out the backoff, got ${early}`);
    assert.equal(notDueForMs({ attempts: 1, age_ms: 2000, since_attempt_ms: 500 }, 1000), 0);
    assert.equal(notDueForMs({ attempts: 3, age_ms: 9000, since_attempt_ms: 2500 }, 1000), 0);
    // Queued but never recorded: another worker may be sending it (10 s timeout); after that it is due.
    assert.equal(notDueForMs({ attempts: 0, age_ms: 1000, since_attempt_ms: null }, 1000), 11_000);
    assert.equal(notDueForMs({ attempts: 0, age_ms: 12_000, since_attempt_ms: null }, 1000), 0);
    // A redelivery the owner asked after the last attempt: at once.
    assert.equal(notDueForMs({ attempts: 4, age_ms: 100_000, since_attempt_ms: null }, 1000), 0);
  });
});
