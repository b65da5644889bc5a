import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Subjects } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { E2E_OWNER, eventually, Platform, TEST_NATS_URL } from '../support/platform.js';
import { receiver } from './webhooks-receiver.js';

/*
 * The webhook worker SIGKILLed while it has deliveries in flight (first attempts sent straight from
 * the fan-out, slow ones handed to the WEBHOOKS stream): a new worker finishes them. What the
 * application sees: every event delivered, each under one webhook-id (its dedupe key), none lost.
 */

const N = 150;

describe('webhook worker killed with deliveries in flight', () => {
  let platform: Platform;
  const receivers: Array<{ close(): void }> = [];

  before(async () => {
    platform = await Platform.start({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '100' } });
  });
  after(async () => {
    for (const r of receivers) r.close();
    await platform?.stop();
  });

  it('delivers every event once to the application after the kill, under one webhook-id each', async () => {
    // Answers after 800 ms: past the fan-out's wait for a first attempt, so the kill finds attempts
    // both in the fan-out and on the WEBHOOKS stream.
    const app = await receiver(0, 800);
    receivers.push(app);
    const hook = await platform.request('POST', '/api/v1/webhooks', { url: app.url, events: ['task.completed'] });
    assert.equal(hook.status, 201);

    const ids = Array.from({ length: N }, () => randomUUID());
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version) SELECT id, 'roadmap.generate', 'completed', $2, 'normal', '{}', 'test' FROM unnest($1::uuid[]) AS id`,
      [ids, E2E_OWNER],
    );
    const messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-webhook-crash' });
    try {
      const at = new Date().toISOString();
      await Promise.all(
        ids.map((taskId) =>
          messaging.js.publish(messaging.subject(Subjects.taskEvents(taskId)), JSON.stringify({ type: 'task.completed', taskId, at, progress: { done: 1, failed: 0, total: 1 } })),
        ),
      );
    } finally {
      await messaging.close();
    }

    await eventually(async () => app.received.length >= 10, 30_000, 'the first attempts under way');
    const victim = platform.processes.find((p) => p.service === 'webhook-worker')!;
    await platform.kill(victim, 'SIGKILL');
    const [recorded] = await platform.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'delivered'`, [
      hook.body.id,
    ]);
    assert.ok(recorded!.n < N, `the kill came while deliveries were in flight (${recorded!.n} of ${N} recorded as delivered)`);
    await platform.waitReady(await platform.spawn('webhook-worker'));

    const taskOf = (body: string) => (JSON.parse(body) as { data: { taskId: string } }).data.taskId;
    const delivered = await eventually(
      async () => {
        const tasks = new Set(app.received.filter((r) => r.answered === 200).map((r) => taskOf(r.body)));
        return ids.every((id) => tasks.has(id)) ? tasks : null;
      },
      90_000,
      'every event delivered after the kill',
    );
    assert.equal(delivered.size, N);
    // Attempts cut by the kill are sent again, always under the delivery's webhook-id: one id per event.
    const idsPerTask = new Map<string, Set<string>>();
    for (const r of app.received) {
      const task = taskOf(r.body);
      idsPerTask.set(task, (idsPerTask.get(task) ?? new Set()).add(String(r.headers['webhook-id'])));
    }
    assert.deepEqual(
      [...idsPerTask].filter(([, webhookIds]) => webhookIds.size !== 1).map(([task]) => task),
      [],
      'one webhook-id per event',
    );
    assert.equal(new Set(app.received.map((r) => r.headers['webhook-id'])).size, N, 'N distinct deliveries reach the application');

    // The registry agrees: N deliveries, each delivered.
    await eventually(
      async () => {
        const rows = await platform.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY status`,
          [hook.body.id],
        );
        return rows.length === 1 && rows[0]!.status === 'delivered' && rows[0]!.n === N;
      },
      30_000,
      'every delivery recorded as delivered',
    );
  });
});
