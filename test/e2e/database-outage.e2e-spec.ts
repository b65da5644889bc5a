import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Messaging } from '@roadmap/messaging';
import { executionLogDrops } from '../support/metrics.js';
import { eventually, freePort, Platform, sleep, TEST_NATS_URL } from '../support/platform.js';

/** A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, none accepted). */
class CuttableProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: number) {}

  async open(): Promise<void> {
    if (this.server?.listening) return;
    this.server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', resolve);
    });
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server?.listening ? this.server.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.destroy();
  }
}

describe('PostgreSQL unreachable for 10 seconds in the middle of roadmaps', () => {
  let platform: Platform;
  let proxy: CuttableProxy;

  before(async () => {
    proxy = new CuttableProxy(await freePort(), 5432);
    await proxy.open();
    platform = await Platform.start({
      databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      env: { OFFLINE_LLM_LATENCY_MS: '150' },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } },
      ackWaitMs: 5_000,
    });
  });
  after(async () => {
    await proxy?.open().catch(() => undefined);
    await platform?.stop();
    await proxy?.cut();
  });

  it('retries in the workers and the log sink; afterwards every task completes and nothing is missing', async () => {
    const goals = ['Become a backend engineer', 'Learn data analysis with Python'];
    const tasks = [];
    for (const goal of goals) tasks.push((await platform.request('POST', '/api/v1/roadmaps', { goal })).body);
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE status = 'completed'`);
      return row.n >= 6 || undefined;
    }, 30_000, 'content under way');

    await proxy.cut();
    await sleep(10_000);
    await proxy.open();

    for (const task of tasks) {
      const done = await platform.waitForTask(task.taskId, ['completed'], 120_000);
      assert.equal(done.progress.done, done.progress.total);
    }
    const [{ items, concepts, completed }] = await platform.query(
      `SELECT (SELECT count(*)::int FROM content_items) AS items, (SELECT count(*)::int FROM concepts) AS concepts,
              (SELECT count(*)::int FROM content_items WHERE status = 'completed') AS completed`,
    );
    assert.equal(items, concepts * 3);
    assert.equal(completed, items);
    // The log sink drains everything it was given. Every item has exactly one "generated" entry: an
    // item whose commit was cut mid-way is seen completed on the retry and announced again, under
    // the same entry id and time, so the sink keeps one.
    const messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-db-outage' });
    try {
      await eventually(async () => {
        const info = await messaging.jsm.consumers.info(messaging.streamName('LOGS'), 'log-sink');
        return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
      }, 30_000, 'the log sink to drain');
    } finally {
      await messaging.close();
    }
    const perItem = await platform.query(
      `SELECT i.concept_id, i.kind, count(l.id)::int AS n, count(DISTINCT l.id)::int AS d
         FROM content_items i
         LEFT JOIN execution_logs l ON l.message LIKE '% generated' AND l.data->>'conceptId' = i.concept_id::text AND l.step = i.kind
        GROUP BY i.concept_id, i.kind`,
    );
    assert.equal(perItem.length, items);
    const missing = perItem.filter((r) => r.n === 0);
    const twice = perItem.filter((r) => r.n > 1);
    assert.deepEqual(missing, [], 'no item without its "generated" entry');
    assert.deepEqual(twice, [], 'no item with two "generated" entries');
    const [logs] = await platform.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM execution_logs WHERE message LIKE '% generated'`);
    assert.equal(logs.n, items);
    assert.equal(await executionLogDrops(platform), 0, 'no execution-log entry dropped by any process');
    console.log(`database outage: items expected ${concepts * 3}, completed ${completed}; "generated" log rows ${logs.n} (distinct ${logs.d})`);
  });
});
