/*
 * A bulk action is a task (issue 20): the workflow worker running a bulk cancel of a few hundred
 * tasks is killed (SIGKILL) in the middle, and another worker takes the run over (the engine
 * redelivers it under a new lease) and finishes it from its last checkpoint. Every matched task is
 * cancelled exactly once, the counts are exact, and the bulk task completes. The workers run only
 * high priority (the operator's bulk tasks): the roadmaps stay queued until the bulk cancel moves them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Subjects } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

const N = 400;
const OWNER = 'crowd';

describe('admin bulk task taken over after its worker is killed', () => {
  let platform: Platform;
  let messaging: Messaging;
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, path, body, {}, { as: 'ops', role: 'admin' });
  const ids: string[] = [];

  before(async () => {
    platform = await Platform.start({ replicas: { 'workflow-worker': 0, 'content-worker': 0 } });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-bulk-takeover' });
    for (const priority of ['normal', 'low']) assert.equal((await admin('POST', '/api/v1/admin/queues/ROADMAP_WORKFLOW/pause', { priority })).status, 200);
    let next = 0;
    const create = async () => {
      while (next < N) {
        next++;
        const res = await platform.request('POST', '/api/v1/roadmaps', { goal: `Learn topic ${next}` }, {}, { as: OWNER });
        assert.equal(res.status, 202, res.text);
        ids.push(res.body.taskId);
      }
    };
    await Promise.all(Array.from({ length: 8 }, create));
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  /** How many task.cancelled events each task has on the EVENTS stream. */
  async function cancelledEvents(): Promise<Map<string, number>> {
    const consumer = await messaging.js.consumers.get(messaging.streamName('EVENTS'), { filter_subjects: messaging.subject(Subjects.taskEvents('*')) });
    const seen = new Map<string, number>();
    try {
      let pending = (await consumer.info(true)).num_pending;
      while (pending > 0) {
        for await (const m of await consumer.fetch({ max_messages: Math.min(pending, 1000), expires: 5_000 })) {
          const event = m.json<{ type: string; taskId: string }>();
          if (event.type === 'task.cancelled') seen.set(event.taskId, (seen.get(event.taskId) ?? 0) + 1);
          pending = m.info.pending;
          if (pending === 0) break;
        }
      }
    } finally {
      await consumer.delete().catch(() => false);
    }
    return seen;
  }

  it('continues from the last checkpoint on another worker: each task cancelled once, counts exact, the task completed', async () => {
    const first = await platform.spawn('workflow-worker');
    await platform.waitReady(first);
    const run = await admin('POST', '/api/v1/admin/tasks/bulk', { action: 'cancel', filter: { owner: OWNER, status: 'queued' } });
    assert.equal(run.status, 202, run.text);
    assert.deepEqual([run.body.total, run.body.taskId], [N, run.body.jobId]);

    // Killed once it is well under way, not finished.
    let midway = run.body;
    const deadline = Date.now() + 60_000;
    while (midway.done < 60 && Date.now() < deadline) midway = (await admin('GET', `/api/v1/admin/jobs/${run.body.jobId}`)).body;
    await platform.kill(first, 'SIGKILL');
    const killed = (await admin('GET', `/api/v1/admin/jobs/${run.body.jobId}`)).body;
    assert.equal(killed.status, 'running', `killed mid-run (${midway.done} done when seen)`);
    assert.ok(killed.done < N, `killed before the end: ${killed.done} of ${N} done`);

    // Another worker takes the run over once its message is redelivered (the ack wait, 30 s).
    await platform.waitReady(await platform.spawn('workflow-worker'));
    const job = await eventually(async () => {
      const { body } = await admin('GET', `/api/v1/admin/jobs/${run.body.jobId}`);
      return body.status !== 'running' ? body : undefined;
    }, 120_000, 'the bulk task finished by the other worker');
    assert.deepEqual([job.status, job.total, job.done, job.failed, job.skipped], ['completed', N, N, 0, 0], JSON.stringify(job));

    const task = (await admin('GET', `/api/v1/tasks/${run.body.taskId}`)).body;
    assert.equal(task.type, 'admin.bulk');
    assert.equal(task.status, 'completed');
    assert.ok(task.attempts >= 2, `taken over under a new lease (attempts ${task.attempts})`);
    assert.deepEqual([task.progress.done, task.progress.failed, task.progress.total], [N, 0, N]);
    const result = (await admin('GET', `/api/v1/tasks/${run.body.taskId}/result`)).body;
    assert.deepEqual([result.result.total, result.result.done, result.result.failed, result.result.skipped], [N, N, 0, 0], JSON.stringify(result.result).slice(0, 500));

    const statuses = await platform.query(`SELECT status, count(*)::int AS n FROM tasks WHERE owner = $1 GROUP BY status`, [OWNER]);
    assert.deepEqual(statuses, [{ status: 'cancelled', n: N }]);
    // A cancel's event is written to the outbox with the cancel: the kill loses none and the takeover
    // says none twice. (The relay publishes after the commit: wait for the last ones to arrive.)
    let events = await cancelledEvents();
    for (const deadline = Date.now() + 20_000; events.size < N && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      events = await cancelledEvents();
    }
    assert.deepEqual(ids.filter((id) => (events.get(id) ?? 0) > 1), [], 'no task cancelled twice');
    assert.deepEqual(ids.filter((id) => events.get(id) !== 1), [], `every task announced once (${events.size} of ${N})`);

    const audit = (await admin('GET', '/api/v1/admin/audit?action=tasks.cancel.finished')).body.items;
    assert.deepEqual(audit.map((e: any) => [e.target, e.result.done, e.result.skipped]), [[run.body.taskId, N, 0]], 'the result audited once');
  });
});
