import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, Platform } from '../support/platform.js';
import { startPrivateNats } from '../support/nats.js';

describe('the gateway while NATS is down', () => {
  let nats: ChildProcess;
  let platform: Platform;
  const storeDir = mkdtempSync(join(tmpdir(), 'nats-outage-'));

  before(async () => {
    const port = await freePort();
    nats = await startPrivateNats(port, storeDir);
    platform = await Platform.start({ natsUrl: `nats://127.0.0.1:${port}`, replicas: { 'workflow-worker': 0, 'content-worker': 0, 'log-sink': 0 } });
  });
  after(async () => {
    nats?.kill('SIGKILL');
    await platform?.stop({ skipStreams: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After, writes nothing, and reports not ready', async () => {
    const accepted = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn networking' });
    assert.equal(accepted.status, 202, 'works while NATS is up');

    const exited = new Promise((resolve) => nats.once('exit', resolve));
    nats.kill('SIGKILL');
    await exited;

    const res = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn distributed systems' });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.code, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    const rows = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE input->>'goal' = 'Learn distributed systems'`);
    assert.equal(rows[0].n, 0, 'nothing is left behind');
    const roadmaps = await platform.query(`SELECT count(*)::int AS n FROM roadmaps WHERE goal = 'Learn distributed systems'`);
    assert.equal(roadmaps[0].n, 0);

    const ready = await platform.request('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal((await platform.request('GET', '/healthz')).status, 200, 'liveness does not depend on NATS');
  });
});
