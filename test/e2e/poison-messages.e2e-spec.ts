import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Headers } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

describe('invalid messages on every stream', () => {
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    platform = await Platform.start({ replicas: { 'content-worker': 1 } });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-poison' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  it('dead-letters each with its reason, and the workers keep serving valid work', async () => {
    const poison = [
      { subject: 'roadmap.workflow.normal.generate', body: '{"taskId": oops' },
      { subject: 'roadmap.workflow.high.generate', body: JSON.stringify({ taskId: 'not-a-uuid', roadmapId: 7 }) },
      { subject: 'content.generate.normal.quiz', body: 'not json at all' },
      { subject: 'content.generate.low.tutorial', body: JSON.stringify({ taskId: crypto.randomUUID(), kind: 'poem' }) },
      { subject: 'logs.content-worker', body: JSON.stringify({ entries: [{ id: 'x', level: 'loud' }] }) },
    ];
    for (const p of poison) await messaging.js.publish(messaging.subject(p.subject), p.body);

    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a backend engineer' });
    const task = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.equal(task.progress.done, task.progress.total, 'valid work is served after the poison');

    const stream = messaging.streamName('DEAD_LETTERS');
    const dead = await eventually(async () => {
      const info = await messaging.jsm.streams.info(stream);
      return info.state.messages >= poison.length ? info.state.messages : undefined;
    }, 20_000, 'every poison message dead-lettered');
    assert.equal(dead, poison.length);
    const reasons = new Map<string, string>();
    for (let seq = 1; seq <= dead; seq++) {
      const m = await messaging.jsm.streams.getMessage(stream, { seq });
      assert.ok(m, `dead letter ${seq}`);
      reasons.set(m.header.get(Headers.deadLetterSubject), m.header.get(Headers.deadLetterReason));
    }
    for (const p of poison) {
      assert.match(reasons.get(p.subject) ?? '', /^invalid_message: /, `${p.subject}: ${reasons.get(p.subject)}`);
    }
    // Operators see them through the admin API (users do not), and can put one back.
    const forbidden = await platform.request('GET', '/api/v1/admin/dead-letters');
    assert.equal(forbidden.status, 403);
    const admin = { as: 'ops', role: 'admin' as const };
    const listed = await eventually(async () => {
      const res = await platform.request('GET', '/api/v1/admin/dead-letters', undefined, {}, admin);
      return res.body?.items?.length === poison.length ? res.body.items : undefined;
    }, 20_000, 'dead letters recorded in PostgreSQL');
    assert.deepEqual(listed.map((d: any) => d.subject).sort(), poison.map((p) => p.subject).sort());
    assert.ok(listed.every((d: any) => /^invalid_message: /.test(d.reason) && d.deliveries === 1));
    const one = listed.find((d: any) => d.subject === 'content.generate.normal.quiz');
    const detail = await platform.request('GET', `/api/v1/admin/dead-letters/${one.id}`, undefined, {}, admin);
    assert.equal(detail.body.payload, 'not json at all');
    const replay = await platform.request('POST', `/api/v1/admin/dead-letters/${one.id}/replay`, undefined, {}, admin);
    assert.equal(replay.status, 202, replay.text);
    assert.equal(replay.body.replayCount, 1);
    // Still invalid, so it comes back as a new dead letter: the replay really went through the worker.
    await eventually(async () => {
      const res = await platform.request('GET', '/api/v1/admin/dead-letters?stream=CONTENT_GENERATION', undefined, {}, admin);
      return res.body.items.filter((d: any) => d.subject === 'content.generate.normal.quiz').length === 2 || undefined;
    }, 20_000, 'the replayed message dead-lettered again');

    console.log(`poison: ${poison.length} published, ${dead} dead-lettered with reasons; the roadmap completed ${task.progress.done}/${task.progress.total}`);
  });

  it('fails the task of a dead-lettered workflow command with DEAD_LETTERED, once', async () => {
    // A queued task whose command arrives broken (its roadmapId is no id): the recorder fails it.
    const taskId = crypto.randomUUID();
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version) VALUES ($1, 'roadmap.generate', 'queued', 'e2e-user', 'normal', '{}', 'v1')`,
      [taskId],
    );
    const body = JSON.stringify({ taskId, roadmapId: 'not-a-uuid' });
    await messaging.js.publish(messaging.subject('roadmap.workflow.normal.generate'), body);
    const failed = await eventually(async () => {
      const [row] = await platform.query(`SELECT status, error, finished_at FROM tasks WHERE id = $1`, [taskId]);
      return row.status === 'failed' ? row : undefined;
    }, 20_000, 'the task failed by its dead letter');
    assert.equal(failed.error.code, 'DEAD_LETTERED');
    assert.match(failed.error.message, /^invalid_message: roadmapId/);
    assert.ok(failed.finished_at);
    const recorded = await platform.query(`SELECT reason, payload FROM dead_letters WHERE task_id = $1`, [taskId]);
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0].payload, body);
  });
});
