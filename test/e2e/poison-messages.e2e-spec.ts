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
    console.log(`poison: ${poison.length} published, ${dead} dead-lettered with reasons; the roadmap completed ${task.progress.done}/${task.progress.total}`);
  });
});
