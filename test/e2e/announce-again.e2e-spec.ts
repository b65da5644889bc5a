import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Subjects, type ContentGenerateMessage } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

/*
 * A content worker that dies between an item's commit and its announcements leaves the item done but
 * its log entry (and, for the last item, the task's "roadmap completed") missing. The message comes
 * back; the worker finds the item final and announces it again under the same ids: what was missing is
 * stored, what was there is not stored twice. Simulated here by deleting the entries and delivering the
 * item's message again.
 */
describe('an item delivered again after it reached its final state', () => {
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    platform = await Platform.start({ replicas: { 'content-worker': 1 } });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-announce-again' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  it('restores a missing log entry and the task’s completion entry once, and duplicates nothing', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Kubernetes operations', review: 'skip' });
    const task = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    const entries = async () =>
      platform.query<{ id: string; message: string; concept_id: string | null; step: string | null }>(
        `SELECT id, message, data->>'conceptId' AS concept_id, step FROM execution_logs WHERE task_id = $1`,
        [accepted.taskId],
      );
    const generated = (rows: Awaited<ReturnType<typeof entries>>) => rows.filter((r) => r.message.endsWith(' generated'));
    const before = await eventually(async () => {
      const rows = await entries();
      return generated(rows).length === task.progress.total && rows.some((r) => r.message === 'roadmap completed') ? rows : undefined;
    }, 20_000, 'every item’s log entry and the completion entry');

    const [item] = await platform.query<{ concept_id: string; kind: ContentGenerateMessage['kind'] }>(
      `SELECT concept_id, kind FROM content_items WHERE roadmap_id = $1 ORDER BY concept_id, kind LIMIT 1`,
      [accepted.roadmapId],
    );
    const lost = await platform.query(
      `DELETE FROM execution_logs WHERE task_id = $1 AND ((data->>'conceptId' = $2 AND step = $3) OR message = 'roadmap completed') RETURNING id`,
      [accepted.taskId, item!.concept_id, item!.kind],
    );
    assert.equal(lost.length, 2, 'the item’s entry and the completion entry are gone');

    const message: ContentGenerateMessage = {
      taskId: accepted.taskId,
      roadmapId: accepted.roadmapId,
      conceptId: item!.concept_id,
      kind: item!.kind,
      priority: 'normal',
      generation: 0,
    };
    await messaging.js.publish(messaging.subject(Subjects.contentGenerate('normal', item!.kind)), JSON.stringify(message), { msgID: `again:${Date.now()}` });

    const after = await eventually(async () => {
      const rows = await entries();
      return rows.length === before.length ? rows : undefined;
    }, 20_000, 'the entries announced again');
    assert.deepEqual(after.map((r) => r.id).sort(), before.map((r) => r.id).sort(), 'the same entries, by id: nothing missing, nothing twice');
    // A second delivery changes nothing more.
    await messaging.js.publish(messaging.subject(Subjects.contentGenerate('normal', item!.kind)), JSON.stringify(message), { msgID: `again2:${Date.now()}` });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await entries()).length, before.length);
    const [{ attempts, status }] = await platform.query(`SELECT attempts, status FROM content_items WHERE roadmap_id = $1 AND concept_id = $2 AND kind = $3`, [
      accepted.roadmapId,
      item!.concept_id,
      item!.kind,
    ]);
    assert.deepEqual({ attempts, status }, { attempts: 1, status: 'completed' }, 'no work was redone');
  });
});
