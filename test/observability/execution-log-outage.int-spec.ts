import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LogBatchSchema } from '@roadmap/contracts';
import { JetStreamPublisher, Messaging, provision } from '@roadmap/messaging';
import { createLogger, ExecutionLogger, keyedId, registry } from '@roadmap/observability';
import { startPrivateNats } from '../support/nats.js';
import { freePort, sleep } from '../support/platform.js';

/** `roadmap_execution_logs_dropped_total`, all reasons. */
async function droppedTotal(): Promise<number> {
  const metric = await registry.getSingleMetric('roadmap_execution_logs_dropped_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/*
 * The failure issue 19 measured: nats-server killed and restarted while a worker logs, one
 * "generated" entry never stored. Here a real nats-server (file storage) is killed with SIGKILL for
 * longer than a publish's 5 s timeout, so messages sent before the kill fail and must be retried,
 * while entries keep being logged; every entry must then be in the LOGS stream exactly once.
 */
describe('ExecutionLogger across a nats-server kill and restart (real NATS, file storage)', () => {
  const storeDir = mkdtempSync(join(tmpdir(), 'exec-log-outage-'));
  let port: number;
  let nats: ChildProcess;
  let messaging: Messaging;

  before(async () => {
    port = await freePort();
    nats = await startPrivateNats(port, storeDir);
    messaging = await Messaging.connect({ servers: `nats://127.0.0.1:${port}`, namespace: `elo${randomBytes(3).toString('hex')}`, name: 'exec-log-outage' });
    await provision(messaging);
  });
  after(async () => {
    await messaging?.close().catch(() => undefined);
    nats?.kill('SIGKILL');
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('stores every entry logged before, during and after the outage once, dropping none', async () => {
    const sut = new ExecutionLogger('content-worker', new JetStreamPublisher(messaging), createLogger('exec-log-outage', 'silent'), {
      retryDelayMs: 50,
      maxRetryDelayMs: 1_000,
    });
    const dropsBefore = await droppedTotal();
    const logged: Array<Promise<boolean>> = [];
    let n = 0;
    const logFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (let i = 0; i < 10; i++, n++) logged.push(sut.info(`item ${n} generated`, { key: `outage:${n}`, at: new Date(1_700_000_000_000 + n) }));
        await sleep(20);
      }
    };

    await logFor(500);
    const stopped = new Promise((resolve) => nats.once('exit', resolve));
    nats.kill('SIGKILL');
    await stopped;
    await logFor(7_000); // past the publish timeout: what was sent before the kill fails and is kept
    assert.ok(sut.unsettled.entries > 0, 'entries wait for the broker');
    nats = await startPrivateNats(port, storeDir);
    await logFor(500);

    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([Promise.all(logged), new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, 60_000, 'timeout')))]);
    clearTimeout(timer);
    assert.notEqual(results, 'timeout', `entries still unsettled: ${JSON.stringify(sut.unsettled)}`);
    assert.ok((results as boolean[]).every(Boolean), 'every log() resolved stored');
    assert.equal(await droppedTotal(), dropsBefore, 'nothing dropped');

    // Every entry in the stream, once: a message whose ack was lost in the kill was sent again
    // under its own Nats-Msg-Id, which the stream deduplicates.
    const stream = messaging.streamName('LOGS');
    const { state } = await messaging.jsm.streams.info(stream);
    const seen = new Map<string, number>();
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const message = await messaging.jsm.streams.getMessage(stream, { seq });
      assert.ok(message, `LOGS message ${seq}`);
      for (const entry of LogBatchSchema.parse(message.json()).entries) seen.set(entry.id, (seen.get(entry.id) ?? 0) + 1);
    }
    const missing = [];
    const twice = [];
    for (let i = 0; i < n; i++) {
      const count = seen.get(keyedId(`outage:${i}`)) ?? 0;
      if (count === 0) missing.push(i);
      if (count > 1) twice.push(i);
    }
    assert.deepEqual(missing, [], `${missing.length} of ${n} entries missing`);
    assert.deepEqual(twice, [], `${twice.length} of ${n} entries stored twice`);
    assert.equal(seen.size, n);
    console.log(`execution log across a nats-server kill: ${n} entries logged, ${seen.size} stored once, ${state.messages} LOGS messages`);
  });
});
