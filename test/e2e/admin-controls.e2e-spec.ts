/*
 * Queue and worker control end to end (issue 20): the real services as processes, two content
 * workers, an admin calling the HTTP API. Pausing the content queue stops new item starts on both
 * workers within a second, the queue views and metrics say who paused it, and resuming finishes
 * the roadmap with every item generated exactly once. Then purge (dry run, refusal without
 * confirmation, the real run cancelling the task with PURGED), concurrency, drain and the audit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, Platform } from '../support/platform.js';

const ADMIN = 'ops-admin';
const LLM_LATENCY_MS = 400;

describe('admin controls: queues and workers', () => {
  let platform: Platform;
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, `/api/v1/admin${path}`, body, {}, { as: ADMIN, role: 'admin' });
  /** Content LLM calls (subject `<concept>:<kind>`) started after a time, per the database clock of the recorder. */
  const contentCallsSince = async (roadmapId: string, since: Date) =>
    (await platform.query<{ n: number }>(`SELECT count(*)::int AS n FROM llm_calls WHERE roadmap_id = $1 AND subject LIKE '%:%' AND started_at > $2`, [roadmapId, since]))[0]!.n;

  before(async () => {
    platform = await Platform.start({
      env: { WORKER_HEARTBEAT_MS: '500' },
      // Items take a while, two at a time per worker, and no standby: a delivered item is a started one.
      serviceEnv: { 'content-worker': { OFFLINE_LLM_LATENCY_MS: String(LLM_LATENCY_MS), WORKER_CONCURRENCY: '2', WORKER_STANDBY: '0' } },
      replicas: { 'content-worker': 2 },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('pausing the content queue stops new item starts on both workers within 1 s; resume finishes with nothing lost or run twice', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a site reliability engineer' });
    await eventually(async () => (await contentCallsSince(accepted.roadmapId, new Date(0))) >= 4 || undefined, 30_000, 'content items generating');

    const paused = await admin('POST', '/queues/CONTENT_GENERATION/pause');
    const pausedAt = new Date();
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.body.consumers.length, 3, 'every priority of the queue');
    for (const c of paused.body.consumers) assert.deepEqual([c.paused, c.pausedBy], [true, ADMIN]);

    // Running calls finish (their records land after them); nothing starts a second after the pause.
    await sleep(1_000 + 2 * LLM_LATENCY_MS + 1_500);
    assert.equal(await contentCallsSince(accepted.roadmapId, new Date(pausedAt.getTime() + 1_000)), 0, 'no item started more than 1 s after the pause');
    const task = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body;
    assert.equal(task.status, 'running', 'work remains while paused');
    const queues = (await admin('GET', '/queues')).body;
    const normal = queues.streams.find((s: any) => s.stream === 'CONTENT_GENERATION').consumers.find((c: any) => c.consumer === 'content-worker-normal');
    assert.deepEqual([normal.paused, normal.pausedBy], [true, ADMIN]);
    assert.ok(normal.pending > 0, 'items wait in the queue');
    assert.ok(Math.abs(Date.parse(normal.pausedAt) - pausedAt.getTime()) < 5_000);
    for (const worker of platform.processes.filter((p) => p.service === 'content-worker')) {
      const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
      assert.match(metrics, /roadmap_messaging_consumer_paused\{[^}]*consumer="content-worker-normal"[^}]*\} 1/, `content-worker.${worker.index} exports the pause`);
    }

    const gatewayMetrics = await (await fetch(`${platform.url}/metrics`)).text();
    assert.match(gatewayMetrics, new RegExp(`roadmap_admin_consumer_paused_since_seconds\\{[^}]*consumer="content-worker-normal"[^}]*by="${ADMIN}"[^}]*\\} \\d`), 'the gateway exports who paused it and since when');

    const resumed = await admin('POST', '/queues/CONTENT_GENERATION/resume');
    assert.equal(resumed.status, 200, resumed.text);
    assert.ok(resumed.body.consumers.every((c: any) => c.paused === false));
    await platform.waitForTask(accepted.taskId, ['completed'], 120_000);
    const items = await platform.query(`SELECT status, attempts FROM content_items WHERE roadmap_id = $1`, [accepted.roadmapId]);
    assert.ok(items.length > 0);
    assert.deepEqual(items.filter((i) => i.status !== 'completed' || i.attempts !== 1), [], 'every item completed, each on its first attempt');
    const [{ twice }] = await platform.query(
      `SELECT count(*)::int AS twice FROM (SELECT subject FROM llm_calls WHERE roadmap_id = $1 AND subject LIKE '%:%' GROUP BY subject HAVING count(*) > 1) x`,
      [accepted.roadmapId],
    );
    assert.equal(twice, 0, 'no item was generated twice');
  });

  it('purges after a dry run and an explicit confirmation, cancelling the task with PURGED', async () => {
    assert.equal((await admin('POST', '/queues/CONTENT_GENERATION/pause', { priority: 'normal' })).status, 200);
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn to bake sourdough bread' });
    const dry = await eventually(async () => {
      const res = await admin('POST', '/queues/CONTENT_GENERATION/purge', { priority: 'normal', dryRun: true });
      return res.body?.messages > 0 && res.body.tasks === 1 ? res : undefined;
    }, 30_000, 'content messages queued behind the pause');
    assert.equal(dry.status, 200);
    assert.deepEqual([dry.body.dryRun, dry.body.sample], [true, [accepted.taskId]]);

    const refused = await admin('POST', '/queues/CONTENT_GENERATION/purge', { priority: 'normal' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'CONFIRMATION_REQUIRED');
    assert.equal(refused.body.details[0].field, 'confirm');

    const purged = await admin('POST', '/queues/CONTENT_GENERATION/purge', { priority: 'normal', confirm: true });
    assert.equal(purged.status, 200, purged.text);
    assert.equal(purged.body.purged, dry.body.messages);
    assert.equal(purged.body.cancelled, 1);
    const task = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body;
    assert.equal(task.status, 'cancelled');
    const [row] = await platform.query(`SELECT error FROM tasks WHERE id = $1`, [accepted.taskId]);
    assert.equal(row.error.code, 'PURGED');
    assert.equal((await admin('POST', '/queues/CONTENT_GENERATION/resume', { priority: 'normal' })).status, 200);
  });

  it('refuses bad input with a stable code and the field at fault, and non-admins with 403', async () => {
    const unknown = await admin('POST', '/queues/NO_SUCH_QUEUE/pause');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'UNKNOWN_QUEUE']);
    const noPriorities = await admin('POST', '/queues/LOGS/pause', { priority: 'high' });
    assert.deepEqual([noPriorities.status, noPriorities.body.code], [400, 'VALIDATION_FAILED']);
    const badPriority = await admin('POST', '/queues/CONTENT_GENERATION/pause', { priority: 'urgent' });
    assert.equal(badPriority.status, 400);
    const consumer = await admin('PUT', '/consumers/no-such-consumer/concurrency', { concurrency: 2 });
    assert.deepEqual([consumer.status, consumer.body.code], [404, 'UNKNOWN_CONSUMER']);
    const zero = await admin('PUT', '/consumers/content-worker-normal/concurrency', { concurrency: 0 });
    assert.equal(zero.status, 400);
    const worker = await admin('POST', '/workers/00000000-0000-4000-8000-000000000000/drain');
    assert.deepEqual([worker.status, worker.body.code], [404, 'WORKER_NOT_FOUND']);
    const user = await platform.request('POST', '/api/v1/admin/queues/CONTENT_GENERATION/pause', {});
    assert.equal(user.status, 403);
  });

  it('changes a consumer’s concurrency on every worker and back; inspect views show it', async () => {
    const set = await admin('PUT', '/consumers/content-worker-normal/concurrency', { concurrency: 1 });
    assert.equal(set.status, 200, set.text);
    await eventually(async () => {
      const { body } = await admin('GET', '/workers/registered');
      const handlers = body.items.filter((w: any) => w.service === 'content-worker').flatMap((w: any) => w.handlers.filter((h: any) => h.consumer === 'content-worker-normal'));
      return handlers.length === 2 && handlers.every((h: any) => h.concurrency === 1 && h.configuredConcurrency === 2) || undefined;
    }, 10_000, 'both workers at 1 slot');
    assert.equal((await admin('PUT', '/consumers/content-worker-normal/concurrency', { concurrency: null })).status, 200);
    await eventually(async () => {
      const { body } = await admin('GET', '/workers/registered');
      return body.items.filter((w: any) => w.service === 'content-worker').every((w: any) => w.handlers.every((h: any) => h.concurrency === h.configuredConcurrency)) || undefined;
    }, 10_000, 'back to the configured slots');

    const stats = (await admin('GET', '/workers/stats')).body.items.find((w: any) => w.service === 'content-worker');
    assert.ok(stats.handled > 0, 'handled counts');
    assert.ok(stats.process.rssBytes > 0 && stats.process.uptimeSeconds >= 0 && stats.process.eventLoopLagMs.max >= 0, JSON.stringify(stats.process));
    const active = await admin('GET', '/workers/active');
    assert.equal(active.status, 200);
    assert.ok(Array.isArray(active.body.items[0].active));
  });

  it('drains a worker: it finishes, exits 0, and the others keep working', async () => {
    const workers = (await admin('GET', '/workers')).body.items.filter((w: any) => w.service === 'content-worker' && w.status === 'alive');
    const target = workers[0];
    const proc = platform.processes.find((p) => p.service === 'content-worker' && p.child.pid === target.pid)!;
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
    const res = await admin('POST', `/workers/${target.id}/drain`);
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.draining, true);
    const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
    assert.equal(code, 0, 'the drained worker exited 0');
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn basic Spanish' });
    await platform.waitForTask(accepted.taskId, ['completed'], 120_000);
  });

  it('records every admin action in the audit trail, newest first, with a cursor', async () => {
    const { body } = await admin('GET', '/audit?limit=100');
    const actions = body.items.map((e: any) => e.action);
    for (const action of ['queue.pause', 'queue.resume', 'queue.purge', 'consumer.concurrency', 'worker.drain']) assert.ok(actions.includes(action), `${action} recorded`);
    assert.ok(body.items.every((e: any) => e.actor === ADMIN));
    const purge = body.items.find((e: any) => e.action === 'queue.purge' && e.outcome === 'ok');
    assert.equal(purge.target, 'CONTENT_GENERATION');
    assert.equal(purge.result.cancelled, 1);
    const refusal = body.items.find((e: any) => e.action === 'queue.purge' && e.outcome === 'failed');
    assert.equal(refusal.result.code, 'CONFIRMATION_REQUIRED');
    const ids = body.items.map((e: any) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');

    const first = (await admin('GET', '/audit?limit=2')).body;
    assert.equal(first.items.length, 2);
    const second = (await admin('GET', `/audit?limit=2&cursor=${first.nextCursor}`)).body;
    assert.deepEqual(second.items.map((e: any) => e.id), body.items.slice(2, 4).map((e: any) => e.id));
    assert.equal((await admin('GET', '/audit?cursor=nonsense')).status, 400);
  });
});
