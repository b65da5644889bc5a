import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { eventually, Platform, sleep } from '../support/platform.js';
import { receiver, type Received } from './webhooks-receiver.js';

/*
 * `callbackUrl` on POST /roadmaps and POST /tasks: the task's end is delivered to that URL like a
 * webhook delivery, signed with the owner's default webhook secret (their oldest registered
 * webhook's), once; refused (and nothing written) without such a secret or for a URL webhooks may
 * not reach; an owner's callbacks carry only their own tasks.
 */

type Payload = { type: string; data: { taskId: string; taskType: string; status: string } };

/** The successful deliveries a receiver got for a task, verified with `secret` (throws on a bad signature). */
function deliveredFor(rx: { received: Received[] }, secret: string, taskId: string): Payload[] {
  return rx.received
    .filter((r) => r.answered === 200)
    .map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as Payload)
    .filter((p) => p.data.taskId === taskId);
}

describe('callbackUrl: a webhook per task, signed with the owner’s default secret', () => {
  let platform: Platform;
  const receivers: Array<{ close(): void }> = [];

  before(async () => {
    platform = await Platform.start({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '100', OFFLINE_LLM_LATENCY_MS: '10' } });
  });
  after(async () => {
    for (const r of receivers) r.close();
    await platform?.stop();
  });

  const myTasks = async () => (await platform.request('GET', '/api/v1/tasks?limit=200')).body.items as Array<{ id: string }>;

  it('refuses a callbackUrl without a default secret, or to a forbidden or malformed URL, and writes nothing', async () => {
    const roadmap = { goal: 'Become a backend engineer', review: 'skip' };
    const task = { type: 'roadmap.batch', input: { goals: ['Learn Go'] } };
    const refuse = async (callbackUrl: string, status: number, code: string) => {
      for (const [path, body] of [['/api/v1/roadmaps', roadmap], ['/api/v1/tasks', task]] as const) {
        const res = await platform.request('POST', path, { ...body, callbackUrl }, { 'Idempotency-Key': `refused-${code}-${path}` });
        assert.equal(res.status, status, `${path} ${callbackUrl}: ${res.text}`);
        assert.equal(res.body.code, code, res.text);
        assert.equal(res.body.details[0].path, 'callbackUrl', res.text);
      }
    };
    await refuse('http://127.0.0.1:9/hook', 422, 'WEBHOOK_SECRET_MISSING');
    assert.deepEqual(await myTasks(), [], 'no task without a secret to sign its callback');

    const hook = await platform.request('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/registered', events: ['task.failed'] });
    assert.equal(hook.status, 201);
    await refuse('http://169.254.169.254/latest/meta-data/', 400, 'WEBHOOK_URL_FORBIDDEN');
    await refuse('not a url', 400, 'VALIDATION_FAILED');
    await refuse('ftp://example.com/hook', 400, 'VALIDATION_FAILED');
    await refuse('https://no-such-host.invalid/hook', 400, 'WEBHOOK_URL_FORBIDDEN');
    assert.deepEqual(await myTasks(), [], 'nothing half-written');
    assert.equal((await platform.query(`SELECT count(*)::int AS n FROM webhooks WHERE task_id IS NOT NULL`))[0].n, 0);
  });

  it('delivers a roadmap’s and a generic task’s end to their callbackUrl, signed with the default secret, once each', async () => {
    const mine = await receiver(1); // the first attempt of each delivery fails: the retry path is the registered endpoints'
    const theirs = await receiver();
    receivers.push(mine, theirs);
    // The default is the oldest registered webhook (the previous test's); a newer one does not change it.
    const newer = await platform.request('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/newer', events: ['task.failed'] });
    const listed = (await platform.request('GET', '/api/v1/webhooks')).body.items as Array<{ id: string; default: boolean; taskId: string | null }>;
    assert.deepEqual(listed.map((w) => [w.default, w.taskId]), [[true, null], [false, null]]);
    assert.equal(listed[1]!.id, newer.body.id);
    const rotated = await platform.request('POST', `/api/v1/webhooks/${listed[0]!.id}/rotate-secret`);
    const secret: string = rotated.body.secret;

    // Idempotency-Key with the same callbackUrl: the same task, one callback.
    const body = { goal: 'Become a data engineer', review: 'skip', callbackUrl: mine.url };
    const first = await platform.request('POST', '/api/v1/roadmaps', body, { 'Idempotency-Key': 'callback-roadmap-1' });
    const again = await platform.request('POST', '/api/v1/roadmaps', body, { 'Idempotency-Key': 'callback-roadmap-1' });
    assert.equal(first.status, 202, first.text);
    assert.deepEqual([again.status, again.body.taskId, again.headers.get('idempotent-replayed')], [202, first.body.taskId, 'true']);
    const other = await platform.request('POST', '/api/v1/roadmaps', { ...body, callbackUrl: theirs.url }, { 'Idempotency-Key': 'callback-roadmap-1' });
    assert.equal(other.status, 422, 'the same key with another callbackUrl is another request');

    const batch = await platform.request('POST', '/api/v1/tasks', { type: 'roadmap.batch', input: { goals: ['Learn SQL'] }, callbackUrl: mine.url });
    assert.equal(batch.status, 202, batch.text);

    // Another owner's task with its own callback: each receiver hears of its owner's task only.
    const otherHook = await platform.request('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/theirs', events: ['task.failed'] }, {}, { as: 'callback-other' });
    const theirTask = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Rust', review: 'skip', callbackUrl: theirs.url }, {}, { as: 'callback-other' });
    assert.equal(theirTask.status, 202, theirTask.text);

    await platform.waitForTask(first.body.taskId, ['completed'], 90_000);
    await platform.waitForTask(batch.body.taskId, ['completed'], 90_000);
    await eventually(async () => deliveredFor(mine, secret, first.body.taskId).length > 0 && deliveredFor(mine, secret, batch.body.taskId).length > 0, 30_000, 'both callbacks');
    await eventually(async () => theirs.received.some((r) => r.answered === 200), 60_000, 'the other owner’s callback');
    await sleep(1_000); // a second delivery would arrive by now

    const roadmapEvents = deliveredFor(mine, secret, first.body.taskId);
    assert.deepEqual(roadmapEvents.map((p) => [p.type, p.data.status, p.data.taskType]), [['task.completed', 'completed', 'roadmap.generate']]);
    assert.deepEqual(deliveredFor(mine, secret, batch.body.taskId).map((p) => [p.type, p.data.taskType]), [['task.completed', 'roadmap.batch']]);
    // Once per event to the application: two attempts (500, 200) of each delivery, one webhook-id each.
    const ids = new Set(mine.received.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 2, 'a callback for the roadmap and one for the batch, none for the batch’s child');
    assert.deepEqual(mine.received.map((r) => r.answered).sort(), [200, 200, 500, 500]);

    const theirPayloads = deliveredFor(theirs, otherHook.body.secret, theirTask.body.taskId);
    assert.deepEqual(theirPayloads.map((p) => p.type), ['task.completed']);
    assert.equal(theirs.received.length, 1, 'the other owner hears of their task only');
    assert.throws(() => new Webhook(secret).verify(theirs.received[0]!.body, theirs.received[0]!.headers as Record<string, string>), 'signed with their secret, not mine');

    // The callback's record: GET /webhooks/{taskId} and its deliveries, for its owner only.
    const callback = await platform.request('GET', `/api/v1/webhooks/${first.body.taskId}`);
    assert.deepEqual([callback.status, callback.body.taskId, callback.body.url, callback.body.default], [200, first.body.taskId, mine.url, false]);
    const deliveries = await platform.request('GET', `/api/v1/webhooks/${first.body.taskId}/deliveries`);
    assert.deepEqual(deliveries.body.items.map((d: { status: string; attempts: unknown[] }) => [d.status, d.attempts.length]), [['delivered', 2]]);
    assert.equal((await platform.request('GET', `/api/v1/webhooks/${theirTask.body.taskId}`)).status, 404);
    assert.equal((await platform.request('DELETE', `/api/v1/webhooks/${first.body.taskId}`)).status, 404, 'a callback is not a registered webhook');
    assert.equal((await platform.request('GET', '/api/v1/webhooks')).body.items.length, 2, 'callbacks are not listed');
  });
});
