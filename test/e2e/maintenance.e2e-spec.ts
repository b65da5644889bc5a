import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

/**
 * Scheduled maintenance on the running platform: the reaper re-drives a task whose workflow message
 * was lost and fails one that stays stuck; the execution-logs job keeps partitions ahead; the run
 * history is readable by admins.
 */
describe('scheduled maintenance', () => {
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    platform = await Platform.start({
      // No workflow worker at first: the queued message can be lost before anyone takes it. The
      // workflow workers run the maintenance jobs: later, two of them share the scheduler's database.
      replicas: { 'workflow-worker': 0, 'content-worker': 1 },
      serviceEnv: {
        'workflow-worker': {
          MAINTENANCE_POLL_MS: '200',
          REAPER_INTERVAL_SECONDS: '1',
          REAPER_QUEUED_AFTER_SECONDS: '2',
          REAPER_MAX_REDRIVES: '1',
          LOG_PARTITIONS_INTERVAL_SECONDS: '1',
        },
      },
    });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-maintenance' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  /** Loses every workflow message not yet delivered, as a broker losing its storage would. */
  const loseWorkflowMessages = () => messaging.jsm.streams.purge(messaging.streamName('ROADMAP_WORKFLOW'));

  it('re-drives a task whose queued message was lost, and the task completes', async () => {
    const { status, body } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn PostgreSQL administration' });
    assert.equal(status, 202);
    // The 202 means the task and its message committed; the outbox relay publishes it a moment later.
    await eventually(
      async () => ((await messaging.jsm.streams.info(messaging.streamName('ROADMAP_WORKFLOW'))).state.messages === 1 ? true : null),
      10_000,
      'the task message in the stream',
    );
    const { purged } = await loseWorkflowMessages();
    assert.equal(purged, 1, 'the task message was in the stream, and is gone');

    const worker = await platform.spawn('workflow-worker');
    await platform.waitReady(worker);
    const task = await platform.waitForTask(body.taskId, ['completed'], 90_000);
    assert.equal(task.status, 'completed');
    const [row] = await platform.query(`SELECT redrives FROM tasks WHERE id = $1`, [body.taskId]);
    assert.equal(row.redrives, 1);

    const logs = await eventually(async () => {
      const res = await platform.request('GET', `/api/v1/tasks/${body.taskId}/logs?limit=200`);
      return res.body.items.some((l: { message: string }) => l.message.startsWith('re-driven by the reaper')) ? res.body.items : null;
    }, 20_000, 'the re-drive in the task logs');
    assert.ok(logs.length > 0);
  });

  it('fails a task that stays stuck past its re-drives, with the reason on the task API', async () => {
    const worker = platform.processes.find((p) => p.service === 'workflow-worker' && p.child.exitCode === null)!;
    await platform.kill(worker, 'SIGTERM');
    // Two workers whose LLM calls hang: the task runs, makes no progress, is re-driven (the resume
    // hangs as well) and stays stuck. They also run the maintenance jobs from now on, side by side.
    const hung = { OFFLINE_LLM_LATENCY_MS: '600000', REAPER_STALLED_AFTER_SECONDS: '2' };
    const workers = [await platform.spawn('workflow-worker', hung), await platform.spawn('workflow-worker', hung)];
    await Promise.all(workers.map((w) => platform.waitReady(w)));
    const { body } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Kubernetes operations' });
    const failed = await eventually(
      async () => {
        const res = await platform.request('GET', `/api/v1/tasks/${body.taskId}`);
        return res.body.status === 'failed' ? res.body : null;
      },
      30_000,
      'the task failed by the reaper',
    );
    assert.equal(failed.error.code, 'TASK_STALLED');
    assert.match(failed.error.message, /after 1 re-drive/);
    assert.ok(failed.finishedAt);
    const [row] = await platform.query(`SELECT redrives FROM tasks WHERE id = $1`, [body.taskId]);
    assert.equal(row.redrives, 1);
    const [roadmap] = await platform.query(`SELECT status FROM roadmaps WHERE id = $1`, [body.roadmapId]);
    assert.equal(roadmap.status, 'failed');
  });

  it('keeps execution_logs partitions ahead and shows every run to admins only', async () => {
    const partitions = await eventually(async () => {
      const rows = await platform.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'execution_logs'::regclass`,
      );
      return rows.length >= 8 ? rows.map((r) => r.relname as string) : null;
    }, 20_000, 'daily partitions');
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    assert.ok(partitions.includes(`execution_logs_p${today}`), partitions.join(', '));
    // Log entries of the tasks above landed in today's partition, not the default one.
    const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM execution_logs_p${today}`);
    assert.ok(n > 0);

    assert.equal((await platform.request('GET', '/api/v1/admin/maintenance')).status, 403);
    const res = await platform.request('GET', '/api/v1/admin/maintenance?limit=500', undefined, {}, { role: 'admin' });
    assert.equal(res.status, 400);
    const { status, body } = await platform.request('GET', '/api/v1/admin/maintenance?limit=50', undefined, {}, { role: 'admin' });
    assert.equal(status, 200);
    assert.deepEqual(body.jobs.map((j: { job: string }) => j.job), ['execution-logs', 'retention', 'reaper']);
    const reaper = body.jobs.find((j: { job: string }) => j.job === 'reaper');
    assert.equal(reaper.intervalSeconds, 1);
    assert.ok(reaper.lastSuccessAt);
    const actions = reaper.runs.flatMap((r: { detail: { tasks?: Array<{ action: string }> } }) => r.detail.tasks ?? []).map((t: { action: string }) => t.action);
    assert.ok(actions.includes('failed'), JSON.stringify(reaper.runs.slice(0, 3)));
    assert.ok(reaper.runs.every((r: { outcome: string; durationMs: number | null }) => r.outcome !== 'error'));
    // Two workflow workers, one reaper run per second between them: never two runs within an interval.
    const starts = reaper.runs.map((r: { startedAt: string }) => Date.parse(r.startedAt)).sort((a: number, b: number) => a - b);
    assert.ok(starts.length >= 5, `${starts.length} reaper runs`);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 999, `reaper runs ${starts[i] - starts[i - 1]} ms apart`);

    // The workers expose the scheduler's metrics; the last-success gauge is the platform's (read from the history).
    const workers = platform.processes.filter((p) => p.service === 'workflow-worker' && p.child.exitCode === null);
    assert.equal(workers.length, 2);
    const metrics = (await Promise.all(workers.map(async (w) => (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text()))).join('\n');
    assert.match(metrics, /roadmap_maintenance_runs_total\{job="reaper",outcome="ok"[^}]*\} [1-9]/);
    assert.match(metrics, /roadmap_maintenance_last_success_timestamp_seconds\{job="reaper"[^}]*\} \d/);
  });
});

describe('the reaper in the content phase', () => {
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    platform = await Platform.start({
      // No content worker: the fanned-out items wait in their stream, where they can be lost.
      replicas: { 'content-worker': 0 },
      serviceEnv: {
        'workflow-worker': { MAINTENANCE_POLL_MS: '200', REAPER_INTERVAL_SECONDS: '1', REAPER_STALLED_AFTER_SECONDS: '3', REAPER_MAX_REDRIVES: '2' },
      },
    });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-maintenance-content' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  it('resumes a running task whose item messages were lost: only the unfinished items are generated again', async () => {
    const { body } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Rust for systems programming' });
    const fanned = await eventually(async () => {
      const res = await platform.request('GET', `/api/v1/tasks/${body.taskId}`);
      return res.body.currentStep === 'content_generation' && res.body.progress.total > 0 ? res.body : null;
    }, 30_000, 'the fan-out');
    // Waiting in a backlog is not being lost: with the messages still there, the reaper defers the task.
    await eventually(
      async () => (await platform.query(`SELECT 1 FROM maintenance_runs WHERE job = 'reaper' AND (detail->>'deferred')::int > 0`)).length > 0,
      30_000,
      'a reaper run that deferred the stalled task',
    );
    assert.equal((await platform.query(`SELECT redrives FROM tasks WHERE id = $1`, [body.taskId]))[0].redrives, 0);
    // The stream holds the owner's window of items; the rest wait in PostgreSQL for their turn (fair dispatch).
    const [{ released, held }] = await platform.query(
      `SELECT count(*) FILTER (WHERE released_at IS NOT NULL)::int AS released, count(*) FILTER (WHERE released_at IS NULL)::int AS held FROM dispatch_queue WHERE task_id = $1`,
      [body.taskId],
    );
    assert.equal(released + held, fanned.progress.total, 'every item is in the stream or held for its turn');
    // Losing the released messages must not leave the held ones waiting for a turn that never comes.
    const { purged } = await messaging.jsm.streams.purge(messaging.streamName('CONTENT_GENERATION'));
    assert.equal(purged, released);

    await eventually(async () => (await platform.query(`SELECT redrives FROM tasks WHERE id = $1`, [body.taskId]))[0].redrives === 1, 30_000, 'a re-drive');
    const worker = await platform.spawn('content-worker');
    await platform.waitReady(worker);
    const task = await platform.waitForTask(body.taskId, ['completed'], 90_000);
    assert.equal(task.progress.done, fanned.progress.total);
    const [row] = await platform.query(`SELECT redrives FROM tasks WHERE id = $1`, [body.taskId]);
    assert.equal(row.redrives, 1, 'the re-driven messages waited for the worker without a second re-drive');
    const generations = await platform.query(`SELECT DISTINCT generation FROM content_items WHERE roadmap_id = $1`, [body.roadmapId]);
    assert.deepEqual(generations.map((g) => g.generation), [1], 'every item was generated again under a new generation');
  });
});
