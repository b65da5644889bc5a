import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Subjects } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { E2E_OWNER, eventually, Platform, TEST_NATS_URL } from '../support/platform.js';
import { receiver } from './webhooks-receiver.js';

/*
 * Webhooks end to end: an owner registers a local receiver, its task ends, the webhook worker
 * delivers the event signed (Standard Webhooks), retrying through the receiver's failures, once per
 * event; the registry's answers and refusals; owner scoping.
 */

describe('webhooks (Standard Webhooks, delivered by the webhook worker)', () => {
  let platform: Platform;
  const receivers: Array<{ close(): void }> = [];

  before(async () => {
    platform = await Platform.start({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '100', OFFLINE_LLM_LATENCY_MS: '10' } });
  });
  after(async () => {
    for (const r of receivers) r.close();
    await platform?.stop();
  });

  it('registers an endpoint with its secret shown once, lists, changes, rotates and deletes it, for its owner only', async () => {
    const created = await platform.request('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['task.completed', '*'], description: 'LMS' });
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const id = created.body.id;

    const listed = await platform.request('GET', '/api/v1/webhooks');
    assert.deepEqual(listed.body.items.map((w: { id: string }) => w.id), [id]);
    assert.equal(listed.body.items[0].secret, undefined);
    assert.equal((await platform.request('GET', `/api/v1/webhooks/${id}`)).body.description, 'LMS');

    // Another owner sees nothing of it and cannot touch it.
    assert.deepEqual((await platform.request('GET', '/api/v1/webhooks', undefined, {}, { as: 'someone-else' })).body.items, []);
    assert.equal((await platform.request('GET', `/api/v1/webhooks/${id}`, undefined, {}, { as: 'someone-else' })).status, 404);
    assert.equal((await platform.request('DELETE', `/api/v1/webhooks/${id}`, undefined, {}, { as: 'someone-else' })).status, 404);

    const disabled = await platform.request('PATCH', `/api/v1/webhooks/${id}`, { enabled: false, events: ['task.failed'] });
    assert.deepEqual([disabled.status, disabled.body.enabled, disabled.body.disabledReason, disabled.body.events], [200, false, 'disabled by its owner', ['task.failed']]);
    const rotated = await platform.request('POST', `/api/v1/webhooks/${id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.secret, created.body.secret);

    assert.equal((await platform.request('DELETE', `/api/v1/webhooks/${id}`)).status, 204);
    assert.equal((await platform.request('GET', `/api/v1/webhooks/${id}`)).status, 404);
  });

  it('refuses bad registrations with the field at fault, and cloud metadata addresses even when private ones are allowed', async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'VALIDATION_FAILED', 'url'],
      [{ url: 'http://127.0.0.1/x', events: ['task.exploded'] }, 'VALIDATION_FAILED', 'events.0'],
      [{ url: 'http://127.0.0.1/x', events: [] }, 'VALIDATION_FAILED', 'events'],
      [{ url: 'http://127.0.0.1/x', events: ['*'], secret: 'mine' }, 'VALIDATION_FAILED', 'secret'],
      [{ url: 'http://169.254.169.254/latest/meta-data/', events: ['*'] }, 'WEBHOOK_URL_FORBIDDEN', 'url'],
    ];
    for (const [body, code, path] of cases) {
      const res = await platform.request('POST', '/api/v1/webhooks', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, code, JSON.stringify(res.body));
      assert.equal(res.body.details[0].path, path, JSON.stringify(res.body));
    }
    assert.deepEqual((await platform.request('GET', '/api/v1/webhooks')).body.items, [], 'nothing half-written');
    const patch = await platform.request('PATCH', `/api/v1/webhooks/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, {});
    assert.equal(patch.status, 400);
  });

  it('delivers a task’s completion signed, retried through failures, once, to its owner’s endpoint only', async () => {
    const mine = await receiver(2);
    const theirs = await receiver();
    receivers.push(mine, theirs);
    const hook = await platform.request('POST', '/api/v1/webhooks', { url: mine.url, events: ['task.completed'] });
    assert.equal(hook.status, 201);
    await platform.request('POST', '/api/v1/webhooks', { url: theirs.url, events: ['*'] }, {}, { as: 'another-owner' });

    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a backend engineer', review: 'skip' });
    await platform.waitForTask(accepted.taskId);
    const delivered = await eventually(async () => mine.received.find((r) => r.answered === 200), 30_000, 'a successful delivery');

    const payload = new Webhook(hook.body.secret).verify(delivered.body, delivered.headers as Record<string, string>) as { type: string; data: { taskId: string; status: string } };
    assert.equal(payload.type, 'task.completed');
    assert.equal(payload.data.taskId, accepted.taskId);
    assert.equal(payload.data.status, 'completed');
    // Three attempts (500, 500, 200) of one delivery: the same webhook-id each time.
    assert.deepEqual(mine.received.map((r) => r.answered), [500, 500, 200]);
    assert.equal(new Set(mine.received.map((r) => r.headers['webhook-id'])).size, 1);
    assert.equal(theirs.received.length, 0, 'another owner’s endpoint hears nothing of this task');

    const deliveries = await eventually(async () => {
      const res = await platform.request('GET', `/api/v1/webhooks/${hook.body.id}/deliveries`);
      return res.body.items[0]?.status === 'delivered' ? res.body.items : null;
    });
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0].id, delivered.headers['webhook-id']);
    assert.deepEqual(deliveries[0].attempts.map((a: { statusCode: number }) => a.statusCode), [500, 500, 200]);

    // Two tasks ending in the same millisecond are two deliveries (an event is its task, type and time).
    const twins = [randomUUID(), randomUUID()];
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version) SELECT id, 'roadmap.generate', 'completed', $2, 'normal', '{}', 'test' FROM unnest($1::uuid[]) AS id`,
      [twins, E2E_OWNER],
    );
    const at = new Date().toISOString();
    const messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-webhooks' });
    try {
      for (const taskId of twins) await messaging.js.publish(messaging.subject(Subjects.taskEvents(taskId)), JSON.stringify({ type: 'task.completed', taskId, at, progress: { done: 1, failed: 0, total: 1 } }));
    } finally {
      await messaging.close();
    }
    await eventually(async () => twins.every((id) => mine.received.some((r) => r.answered === 200 && JSON.parse(r.body).data.taskId === id)), 20_000, 'both twins delivered');
    mine.received.splice(3); // what follows counts from the first task's three attempts

    // Sent again on request, with the same webhook-id (a receiver deduplicates on it).
    const again = await platform.request('POST', `/api/v1/webhooks/${hook.body.id}/deliveries/${deliveries[0].id}/redeliver`);
    assert.equal(again.status, 202);
    await eventually(async () => mine.received.length === 4, 20_000, 'the redelivery');
    assert.equal(mine.received[3]!.headers['webhook-id'], deliveries[0].id);
  });
});
