/*
 * A queue pause is durable (issue 20): it holds across a nats-server restart (the control bucket is
 * file-backed and every worker's watch reconnects) and for a worker process started while paused,
 * and a resume made after the restart still reaches the workers. A private nats-server, so the
 * restart disturbs no other test.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, freePort, Platform, sleep } from '../support/platform.js';
import { startPrivateNats } from '../support/nats.js';

describe('a paused queue across a nats-server restart and a new worker', () => {
  let nats: ChildProcess;
  let platform: Platform;
  let port: number;
  const storeDir = mkdtempSync(join(tmpdir(), 'nats-pause-'));
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, `/api/v1/admin${path}`, body, {}, { as: 'ops', role: 'admin' });
  const contentCalls = async () => (await platform.query<{ n: number }>(`SELECT count(*)::int AS n FROM llm_calls WHERE subject LIKE '%:%'`))[0]!.n;

  before(async () => {
    port = await freePort();
    nats = await startPrivateNats(port, storeDir);
    platform = await Platform.start({ natsUrl: `nats://127.0.0.1:${port}`, env: { OFFLINE_LLM_LATENCY_MS: '50' }, replicas: { 'content-worker': 1 } });
  });
  after(async () => {
    await platform?.stop({ skipStreams: true });
    nats?.kill('SIGKILL');
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('stays paused after the restart and for a new worker; a resume after the restart completes the roadmap', async () => {
    assert.equal((await admin('POST', '/queues/CONTENT_GENERATION/pause')).status, 200);

    const stopped = new Promise((resolve) => nats.once('exit', resolve));
    nats.kill('SIGKILL');
    await stopped;
    await sleep(2_000);
    nats = await startPrivateNats(port, storeDir);
    const fresh = await platform.spawn('content-worker');
    await platform.waitReady(fresh);
    await eventually(async () => (await fetch(`${platform.url}/readyz`)).ok || undefined, 30_000, 'the gateway reconnected');

    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn to brew beer' });
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1`, [accepted.roadmapId]);
      return row.n > 0 || undefined;
    }, 60_000, 'the roadmap fanned out its items');
    await sleep(3_000);
    assert.equal(await contentCalls(), 0, 'no content item started on the restarted or the new worker');
    const queues = (await admin('GET', '/queues')).body;
    const normal = queues.streams.find((s: any) => s.stream === 'CONTENT_GENERATION').consumers.find((c: any) => c.consumer === 'content-worker-normal');
    assert.deepEqual([normal.paused, normal.pausedBy], [true, 'ops'], 'the pause survived the restart');
    // Waiting in the stream, or delivered to a pull that was open at the pause and held, not started.
    assert.ok(normal.pending + normal.ackPending > 0, JSON.stringify(normal));

    assert.equal((await admin('POST', '/queues/CONTENT_GENERATION/resume')).status, 200);
    await platform.waitForTask(accepted.taskId, ['completed'], 120_000);
    const [{ twice }] = await platform.query(`SELECT count(*)::int AS twice FROM content_items WHERE roadmap_id = $1 AND (status <> 'completed' OR attempts <> 1)`, [accepted.roadmapId]);
    assert.equal(twice, 0, 'every item completed on its first attempt');
  });
});
