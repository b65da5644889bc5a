import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

// The test-only workflow, deployed by configuration alone (compiled beside this file's folder).
const DEMO_MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'demo.workflow.js');

/** The task's live progress (SSE) from its start until its final event, as `{ type, data }`. */
async function follow(platform: Platform, taskId: string): Promise<Array<{ type: string; data: any }>> {
  const res = await fetch(`${platform.url}/api/v1/tasks/${taskId}/events`, { headers: await platform.authHeaders() });
  const events: Array<{ type: string; data: any }> = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body!) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const type = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!type || !data) continue;
      events.push({ type, data: JSON.parse(data) });
      if (['task.completed', 'task.failed', 'task.cancelled'].includes(type)) return events;
    }
  }
  return events;
}

describe('the workflow engine through the real services: a plugin workflow, a batch, the unified task API', () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start({
      // DISPATCH_WORKFLOW_WINDOW: the demo's three children run at once (one owner's starts are otherwise two at a time).
      env: { WORKFLOW_MODULES: DEMO_MODULE, OFFLINE_LLM_LATENCY_MS: '0', DISPATCH_WORKFLOW_WINDOW: '4' },
      // A child of the demo gets 3 s before a warning and 8 s before it fails (per type, by configuration).
      serviceEnv: { 'workflow-worker': { TASK_DEADLINES: JSON.stringify({ 'test.demo-child': { softMs: 3_000, hardMs: 8_000 } }), DEADLINE_SWEEP_MS: '250' } },
      replicas: { 'workflow-worker': 1, 'content-worker': 1 },
      ackWaitMs: 3_000,
    });
    await platform.grantPriorityHigh();
  });
  after(async () => platform?.stop());

  const runs = (step: string, taskId: string) =>
    platform.processes
      .concat()
      .flatMap((p) => p.output)
      .filter((line) => line.includes(`demo-workflow ran ${step} of ${taskId}`)).length;

  it('lists every task type with its version and JSON Schemas, and refuses unknown types and bad input with the field at fault', async () => {
    const { status, body } = await platform.request('GET', '/api/v1/task-types');
    assert.equal(status, 200);
    const types = Object.fromEntries(body.items.map((t: any) => [t.type, t]));
    for (const type of ['roadmap.generate', 'roadmap.batch', 'test.demo', 'test.demo-child']) assert.ok(types[type], `${type} is listed`);
    assert.equal(types['roadmap.generate'].version, 'roadmap-workflow@1');
    assert.ok(types['roadmap.batch'].input.properties.goals, 'the batch input schema names goals');
    assert.ok(types['test.demo'].signals.approve, 'a type lists its signals');

    const unknown = await platform.request('POST', '/api/v1/tasks', { type: 'no.such', input: {} });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'UNKNOWN_TASK_TYPE');
    assert.match(unknown.body.message, /roadmap\.generate/);

    const bad = await platform.request('POST', '/api/v1/tasks', { type: 'roadmap.batch', input: { goals: ['Learn Go', 'Learn SQL', 'Learn Rust', 'x'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(
      bad.body.details.map((d: any) => d.field),
      ['input.goals.3'],
    );
    const nothing = await platform.request('GET', `/api/v1/tasks/${crypto.randomUUID()}/result`);
    assert.equal(nothing.status, 404);
  });

  it('runs a plugin workflow: checkpoints survive a SIGKILL, it waits for a typed signal, fans out to children and joins them', async () => {
    const accepted = await platform.request('POST', '/api/v1/tasks', { type: 'test.demo', input: { count: 4, slowMs: 4_000 } }, { 'Idempotency-Key': 'demo-1' });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.type, 'test.demo');
    const taskId = accepted.body.taskId;
    const again = await platform.request('POST', '/api/v1/tasks', { type: 'test.demo', input: { count: 4, slowMs: 4_000 } }, { 'Idempotency-Key': 'demo-1' });
    assert.equal(again.body.taskId, taskId, 'the Idempotency-Key returns the first task');

    // Kill the worker in the middle of the slow step, after the first step's checkpoint.
    await eventually(async () => runs('slow', taskId) > 0, 20_000, 'the slow step to start');
    const victim = platform.processes.find((p) => p.service === 'workflow-worker' && p.child.exitCode === null)!;
    await platform.kill(victim, 'SIGKILL');
    const replacement = await platform.spawn('workflow-worker');
    await platform.waitReady(replacement);

    const waiting = await platform.waitForTask(taskId, ['awaiting_review'], 60_000);
    assert.equal(waiting.currentStep, 'approve');
    assert.equal(runs('prepare', taskId), 1, 'the checkpointed step is not run again after the crash');
    assert.ok(runs('slow', taskId) >= 2, 'the interrupted step runs again');

    const early = await platform.request('GET', `/api/v1/tasks/${taskId}/result`);
    assert.equal(early.status, 409);
    assert.equal(early.body.code, 'NOT_COMPLETED');
    assert.match(early.body.message, /awaiting_review/);

    const badSignal = await platform.request('POST', `/api/v1/tasks/${taskId}/signals/approve`, { payload: { note: '' } });
    assert.equal(badSignal.status, 400);
    assert.deepEqual(badSignal.body.details.map((d: any) => d.field), ['payload.note']);
    const unknownSignal = await platform.request('POST', `/api/v1/tasks/${taskId}/signals/reject`, { payload: {} });
    assert.equal(unknownSignal.status, 400);
    const signalled = await platform.request('POST', `/api/v1/tasks/${taskId}/signals/approve`, { payload: { note: 'ship it' } });
    assert.equal(signalled.status, 202);
    const twice = await platform.request('POST', `/api/v1/tasks/${taskId}/signals/approve`, { payload: { note: 'ship it' } });
    assert.equal(twice.status, 409, 'a signal the task no longer waits for is a conflict');

    const result = await platform.request('GET', `/api/v1/tasks/${taskId}/result?wait=60`);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body.result, { sum: 1 + 4 + 9 + 16, note: 'ship it', children: 4 });

    const children = await platform.request('GET', `/api/v1/tasks?parentId=${taskId}`);
    assert.equal(children.body.items.length, 4);
    assert.ok(children.body.items.every((c: any) => c.type === 'test.demo-child' && c.status === 'completed'));
    const parent = await platform.request('GET', `/api/v1/tasks/${taskId}`);
    assert.equal(parent.body.children.total, 4);
    assert.equal(parent.body.children.completed, 4);
    const child = await platform.request('GET', `/api/v1/tasks/${children.body.items[0].id}`);
    assert.equal(child.body.parentId, taskId);
  });

  it('cancelling a parent cancels its running children; resuming it runs only the children that did not complete', async () => {
    const { body } = await platform.request('POST', '/api/v1/tasks', { type: 'test.demo', input: { count: 3, childMs: 4_000 } });
    await platform.waitForTask(body.taskId, ['awaiting_review'], 30_000);
    await platform.request('POST', `/api/v1/tasks/${body.taskId}/signals/approve`, { payload: { note: 'go' } });
    await eventually(async () => {
      const { body: list } = await platform.request('GET', `/api/v1/tasks?parentId=${body.taskId}`);
      return list.items.length === 3 && list.items.every((c: any) => c.status === 'running');
    }, 30_000, 'three running children');

    const cancelled = await platform.request('POST', `/api/v1/tasks/${body.taskId}/cancel`);
    assert.equal(cancelled.body.status, 'cancelled');
    const { body: list } = await platform.request('GET', `/api/v1/tasks?parentId=${body.taskId}`);
    assert.deepEqual(list.items.map((c: any) => c.status), ['cancelled', 'cancelled', 'cancelled']);
    const gone = await platform.request('GET', `/api/v1/tasks/${body.taskId}/result`);
    assert.equal(gone.status, 409);
    assert.match(gone.body.message, /cancelled/);

    const resumed = await platform.request('POST', `/api/v1/tasks/${body.taskId}/resume`);
    assert.equal(resumed.status, 202);
    const result = await platform.request('GET', `/api/v1/tasks/${body.taskId}/result?wait=60`);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.body.result, { sum: 1 + 4 + 9, note: 'go', children: 3 });
    assert.equal(runs('fan_out', body.taskId), 1, 'the resumed parent does not fan out again: its children are resumed');
  });

  it('a task past its soft deadline is warned, past its hard one failed with TASK_DEADLINE and its work aborted; its parent still joins', async () => {
    const { body } = await platform.request('POST', '/api/v1/tasks', { type: 'test.demo', input: { count: 1, childMs: 60_000 } });
    await platform.waitForTask(body.taskId, ['awaiting_review'], 30_000);
    await platform.request('POST', `/api/v1/tasks/${body.taskId}/signals/approve`, { payload: { note: 'slow one' } });
    const result = await platform.request('GET', `/api/v1/tasks/${body.taskId}/result?wait=30`);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.body.result, { sum: 0, note: 'slow one', children: 0 }, 'the failed child does not fail the parent');
    const { body: list } = await platform.request('GET', `/api/v1/tasks?parentId=${body.taskId}`);
    const child = list.items[0];
    assert.equal(child.status, 'failed');
    assert.equal(child.error.code, 'TASK_DEADLINE');
    const startedToFailed = Date.parse(child.finishedAt) - Date.parse(child.startedAt);
    assert.ok(startedToFailed >= 8_000 && startedToFailed < 20_000, `failed at its hard deadline, not after its 60 s of work (${startedToFailed} ms)`);
    const { body: logs } = await platform.request('GET', `/api/v1/tasks/${child.id}/logs?level=warn`);
    assert.ok(logs.items.some((l: any) => /soft deadline/.test(l.message)), 'the soft deadline was logged on the task');
  });

  it('a roadmap.batch creates one roadmap per goal, each readable on its own, and completes with the aggregate', async () => {
    const goals = ['Learn Go for backend services', 'Learn SQL for analytics', 'Learn Rust for systems'];
    const accepted = await platform.request('POST', '/api/v1/tasks', { type: 'roadmap.batch', input: { goals }, priority: 'high' });
    assert.equal(accepted.status, 202);
    const following = follow(platform, accepted.body.taskId);
    const result = await platform.request('GET', `/api/v1/tasks/${accepted.body.taskId}/result?wait=60`);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const batch = result.body.result;
    assert.equal(batch.total, 3);
    assert.equal(batch.completed, 3);
    assert.equal(batch.failed + batch.cancelled, 0);
    assert.deepEqual(batch.children.map((c: any) => c.goal), goals);
    assert.ok(batch.usage.calls > 0, 'the aggregate counts the children’s LLM calls');
    for (const child of batch.children) {
      const roadmap = await platform.request('GET', `/api/v1/roadmaps/${child.roadmapId}`);
      assert.equal(roadmap.status, 200);
      const task = await platform.request('GET', `/api/v1/tasks/${child.taskId}`);
      assert.equal(task.body.parentId, accepted.body.taskId);
      assert.equal(task.body.priority, 'high', 'children run at the batch’s priority');
      const own = await platform.request('GET', `/api/v1/tasks/${child.taskId}/result`);
      assert.equal(own.status, 200);
      assert.equal(own.body.result.roadmapId, child.roadmapId);
      assert.ok(own.body.result.items >= 24);
    }
    // The batch's own live progress announced each child's end, then its completion with every child counted.
    const events = await following;
    const ended = events.filter((e) => e.type === 'child.ended');
    assert.deepEqual(new Set(ended.map((e) => e.data.childId)), new Set(batch.children.map((c: any) => c.taskId)));
    assert.deepEqual(events.at(-1), { type: 'task.completed', data: { ...events.at(-1)!.data, progress: { done: 3, failed: 0, total: 3 } } });
    assert.deepEqual((await platform.request('GET', `/api/v1/tasks/${accepted.body.taskId}`)).body.progress, { done: 3, failed: 0, total: 3, percent: 100 });
    // No duplicates: exactly one child per goal.
    const rows = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE parent_id = $1`, [accepted.body.taskId]);
    assert.equal(rows[0].n, 3);
  });
});
