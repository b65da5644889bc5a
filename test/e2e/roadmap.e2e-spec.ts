import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } };

describe('a learning goal becomes a roadmap (four services, real NATS and PostgreSQL)', () => {
  let platform: Platform;

  before(async () => {
    // A little simulated LLM latency so the two content workers really share the work.
    platform = await Platform.start({ env: { OFFLINE_LLM_LATENCY_MS: '20' } });
  });
  after(async () => {
    await platform?.stop();
  });

  it('accepts the goal with 202 and links to follow it', async () => {
    const res = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    assert.equal(res.status, 202, res.text);
    assert.match(res.body.taskId, /^[0-9a-f-]{36}$/);
    assert.match(res.body.roadmapId, /^[0-9a-f-]{36}$/);
    assert.equal(res.body.links.status, `/api/v1/tasks/${res.body.taskId}`);
    const task = await platform.request('GET', `/api/v1/tasks/${res.body.taskId}`);
    assert.equal(task.status, 200);
    assert.ok(['queued', 'running', 'completed'].includes(task.body.status));
  });

  it('completes the roadmap with a tutorial, resources and a quiz for at least 8 concepts, shared by two workers', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    const task = await platform.waitForTask(accepted.taskId);
    assert.equal(task.status, 'completed');
    assert.equal(task.progress.percent, 100);
    assert.equal(task.progress.done, task.progress.total);

    const { status, body: roadmap } = await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`);
    assert.equal(status, 200);
    assert.equal(roadmap.status, 'completed');
    const concepts = roadmap.stages.flatMap((s: any) => s.concepts);
    assert.ok(concepts.length >= 8, `only ${concepts.length} concepts`);
    for (const concept of concepts) {
      for (const kind of ['tutorial', 'resources', 'quiz']) {
        assert.equal(concept.content[kind].status, 'completed', `${concept.slug} ${kind}`);
        assert.ok(concept.content[kind].content, `${concept.slug} ${kind} has content`);
      }
      assert.ok(concept.content.quiz.content.questions.length >= 1);
      assert.ok(concept.content.tutorial.content.sections.length >= 1);
    }

    // Stored once each: one row per concept and kind.
    const [{ rows, distinct }] = await platform.query(
      `SELECT count(*)::int AS rows, count(DISTINCT (concept_id, kind))::int AS distinct FROM content_items WHERE roadmap_id = $1`,
      [accepted.roadmapId],
    );
    assert.equal(rows, concepts.length * 3);
    assert.equal(distinct, rows);

    // Both content-worker processes generated some of the items (the execution log names the process).
    const workers = await eventually(async () => {
      const found = await platform.query(
        `SELECT instance, count(*)::int AS n FROM execution_logs WHERE task_id = $1 AND service = 'content-worker' AND message LIKE '% generated' GROUP BY instance`,
        [accepted.taskId],
      );
      const total = found.reduce((sum, r) => sum + r.n, 0);
      return total === rows ? found : undefined;
    }, 20_000, 'a log entry for every generated item');
    assert.equal(workers.length, 2, `items by process: ${JSON.stringify(workers)}`);
  });

  it('keeps execution logs of every workflow step, readable through the API', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn data analysis with Python' });
    await platform.waitForTask(accepted.taskId);
    const steps = await eventually(async () => {
      const res = await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=1000`);
      const seen = new Set(res.body.items.map((e: any) => e.step));
      return ['intent_analysis', 'curriculum_design', 'validation', 'fan_out', 'tutorial', 'resources', 'quiz'].every((s) => seen.has(s))
        ? seen
        : undefined;
    }, 20_000, 'log entries of every step');
    assert.ok(steps.size >= 7);
    const page = await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=5`);
    assert.equal(page.body.items.length, 5);
    const next = await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=5&cursor=${page.body.nextCursor}`);
    assert.equal(next.body.items.length, 5);
    assert.notEqual(next.body.items[0].id, page.body.items[0].id);
    assert.ok(next.body.items[0].at >= page.body.items[4].at);

    // A minimum level: `info` leaves out debug entries, `error` everything of a run that went well.
    // Entries of the last items may still be on their way to the log sink (it flushes every 100 ms):
    // compare once the log has stopped growing, or the two reads below see different logs.
    const all = await eventually(async () => {
      const first = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=1000`)).body.items;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const again = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=1000`)).body.items;
      return again.length === first.length ? again : undefined;
    }, 20_000, 'the task log to stop growing');
    const info = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?limit=1000&level=info`)).body.items;
    assert.deepEqual(info.map((e: any) => e.id), all.filter((e: any) => e.level !== 'debug').map((e: any) => e.id));
    assert.deepEqual((await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?level=error`)).body.items, []);
    const bad = await platform.request('GET', `/api/v1/tasks/${accepted.taskId}/logs?level=loud`);
    assert.equal(bad.status, 400);
    assert.ok(bad.body.details.some((d: any) => d.field === 'level'));
  });

  it('answers bad requests with a clear 4xx and a stable code', async () => {
    const missingGoal = await platform.request('POST', '/api/v1/roadmaps', { preferences: { level: 'beginner' } });
    assert.equal(missingGoal.status, 400);
    assert.equal(missingGoal.body.code, 'VALIDATION_FAILED');
    assert.ok(missingGoal.body.details.some((d: any) => d.field === 'goal'));

    const badLevel = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Go', preferences: { level: 'guru' } });
    assert.equal(badLevel.status, 400);
    assert.ok(badLevel.body.details.some((d: any) => d.field === 'preferences.level'));

    const unknownField = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Go', colour: 'blue' });
    assert.equal(unknownField.status, 400);
    assert.deepEqual(unknownField.body.details, [{ path: 'colour', field: 'colour', message: 'unknown field' }]);

    const notJson = await platform.request('POST', '/api/v1/roadmaps', '{"goal": ');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.code, 'INVALID_JSON');

    // The gateway answers 413 from the Content-Length without reading the body, and may close the
    // connection while a loaded machine's client is still writing it (EPIPE): asked again then.
    const huge = await retryOnBrokenPipe(() => platform.request('POST', '/api/v1/roadmaps', { goal: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(huge.status, 413);
    assert.equal(huge.body.code, 'PAYLOAD_TOO_LARGE');

    const malformedId = await platform.request('GET', '/api/v1/tasks/not-a-uuid');
    assert.equal(malformedId.status, 400);
    assert.equal(malformedId.body.code, 'INVALID_ID');

    const unknownTask = await platform.request('GET', '/api/v1/tasks/0190b6f0-0000-7000-8000-000000000000');
    assert.equal(unknownTask.status, 404);
    assert.equal(unknownTask.body.code, 'NOT_FOUND');
    const unknownRoadmap = await platform.request('GET', '/api/v1/roadmaps/0190b6f0-0000-7000-8000-000000000000');
    assert.equal(unknownRoadmap.status, 404);

    // Nothing was written for the rejected requests.
    const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE input->>'goal' = 'Learn Go'`);
    assert.equal(n, 0);
  });

  it('returns the first task for a repeated Idempotency-Key, even for concurrent requests', async () => {
    const key = `e2e-${Date.now()}`;
    const headers = { 'idempotency-key': key };
    const body = { goal: 'Learn compilers' };
    const results = await Promise.all(Array.from({ length: 5 }, () => platform.request('POST', '/api/v1/roadmaps', body, headers)));
    assert.ok(results.every((r) => r.status === 202), results.map((r) => r.text).join('\n'));
    assert.equal(new Set(results.map((r) => r.body.taskId)).size, 1, 'one task for one key');
    assert.equal(results.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 4);
    const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE input->>'goal' = 'Learn compilers'`);
    assert.equal(n, 1);

    const other = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn something else' }, headers);
    assert.equal(other.status, 422);
    assert.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');
    const bad = await platform.request('POST', '/api/v1/roadmaps', body, { 'idempotency-key': 'has spaces in it' });
    assert.equal(bad.status, 400);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    assert.equal((await platform.request('GET', '/healthz')).status, 200);
    const ready = await platform.request('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.details.nats.status, 'up');
    assert.equal(ready.body.details.database.status, 'up');
    const metrics = await platform.request('GET', '/metrics');
    assert.match(metrics.text, /roadmap_tasks_accepted_total/);
    assert.match(metrics.text, /nodejs_eventloop_lag_seconds/);
    const doc = await platform.request('GET', '/docs/openapi.json');
    assert.equal(doc.status, 200);
    assert.ok(doc.body.paths['/api/v1/roadmaps']);
    assert.ok(doc.body.paths['/api/v1/tasks/{id}']);
  });
});

/** Runs `send` again (up to 5 times) when the connection broke while the request was being written. */
async function retryOnBrokenPipe<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (attempt >= 5 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw error;
    }
  }
}
