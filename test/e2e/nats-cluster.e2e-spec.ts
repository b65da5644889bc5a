/*
 * The platform on a JetStream cluster: three nats-servers on loopback (a store each), NATS_URL
 * listing all three, every stream and KV bucket at 3 replicas. While 20 roadmaps are generated, the
 * server leading the content stream is SIGKILLed and restarted 10 s later on its own store, then the
 * same is done to another. Every task completes, every item and every "generated" log entry is stored
 * once, and the LLM rate limits and cache (KV buckets, replicated) still work after the failovers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { LLM_BUCKETS } from '@roadmap/llm';
import { deprovision, kvBuckets, kvStreamName, Messaging, provision } from '@roadmap/messaging';
import { STREAMS } from '@roadmap/contracts';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { NatsCluster } from '../support/nats-cluster.js';
import { eventually, Platform, sleep } from '../support/platform.js';

const GOALS = [
  'Become a backend engineer', 'Learn data analysis with Python', 'Become a DevOps engineer', 'Learn Kotlin for Android apps',
  'Become a frontend developer', 'Learn SQL for analytics', 'Learn machine learning basics', 'Become a cloud architect',
  'Learn Rust systems programming', 'Become a security engineer', 'Learn Go for web services', 'Become a data engineer',
  'Learn iOS development with Swift', 'Become a site reliability engineer', 'Learn TypeScript deeply', 'Learn game development with Unity',
  'Become a QA automation engineer', 'Learn embedded C programming', 'Become a product-minded engineer', 'Learn distributed systems',
];
const API_KEY = 'sk-cluster-0123456789abcdef';

describe('the platform on a 3-node JetStream cluster, the content stream leader killed twice', () => {
  let cluster: NatsCluster;
  let fake: FakeOpenAi;
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    cluster = await NatsCluster.start(3);
    // The openai provider (a fake server) rather than the offline one: its calls go through the shared
    // rate limiter, owner slots and cache, all in JetStream KV.
    fake = await startFakeOpenAi({ apiKey: API_KEY, latencyMs: 250 });
    platform = await Platform.start({
      natsUrl: cluster.url,
      streamReplicas: 3,
      ackWaitMs: 5_000,
      env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: API_KEY, LLM_MODEL: 'fake-cluster', LLM_RPM: '100000', LLM_MAX_RETRIES: '5' },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } },
    });
    messaging = await Messaging.connect({ servers: cluster.url, namespace: platform.namespace, name: 'e2e-cluster' });
  });
  // Bounded: a hook that hangs must not hold the run (the cluster's servers die with the process).
  after(
    async () => {
      await messaging?.close();
      await platform?.stop({ skipStreams: true });
      await cluster?.stop();
      await fake?.close();
    },
    { timeout: 90_000 },
  );

  it('moves streams and KV buckets from one replica to three by provisioning again (R1 -> R3)', async () => {
    const single = await Messaging.connect({ servers: cluster.url, namespace: `${platform.namespace}r`, name: 'e2e-cluster-r1' });
    try {
      await provision(single, { replicas: 1 });
      const names = [...Object.values(STREAMS).map((s) => single.streamName(s.name)), ...kvBuckets().map((b) => kvStreamName(single.streamName(b.name)))];
      for (const name of names) assert.equal((await single.jsm.streams.info(name)).config.num_replicas, 1);
      const report = await provision(single, { replicas: 3 });
      const raised = report.entries.filter((e) => e.changes.includes('num_replicas: 1 -> 3')).map((e) => e.name);
      assert.equal(raised.length, names.length, `raised: ${raised.join(', ')}`);
      for (const name of names) assert.equal((await single.jsm.streams.info(name)).config.num_replicas, 3, name);
      assert.deepEqual((await provision(single, { replicas: 3 })).updated, [], 'a second run changes nothing');
    } finally {
      await deprovision(single).catch(() => undefined);
      await single.close();
    }
  });

  it('keeps every stream and KV bucket on three servers and loses nothing when leaders die', async () => {
    for (const name of [...Object.values(STREAMS).map((s) => messaging.streamName(s.name)), ...kvBuckets().map((b) => kvStreamName(messaging.streamName(b.name)))]) {
      assert.equal((await messaging.jsm.streams.info(name)).config.num_replicas, 3, `${name} replicas`);
    }

    const tasks: Array<{ taskId: string; roadmapId: string }> = [];
    for (const goal of GOALS) {
      const res = await platform.request('POST', '/api/v1/roadmaps', { goal });
      assert.equal(res.status, 202, res.text);
      tasks.push(res.body);
    }
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE status = 'completed'`);
      return row.n >= 10 || undefined;
    }, 60_000, 'content under way');

    // Kill the content stream's leader, restart it 10 s later on its store; then another server.
    const content = messaging.streamName('CONTENT_GENERATION');
    const killed: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { leader } = await eventually(async () => {
        const peers = await cluster.streamPeers(content).catch(() => undefined);
        return peers?.leader ? peers : undefined;
      }, 30_000, 'a content stream leader');
      const victim = killed.includes(leader) ? (cluster.nodes.find((n) => !killed.includes(n.name))?.name as string) : leader;
      killed.push(victim);
      await cluster.kill(victim);
      const [progress] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE status = 'completed'`);
      console.log(`nats cluster: killed ${victim} (content stream leader ${leader}) with ${progress.n} items completed`);
      await sleep(10_000);
      await cluster.restart(victim);
      await eventually(async () => {
        const peers = await cluster.streamPeers(content).catch(() => undefined);
        return peers && (peers.leader === victim || peers.current.includes(victim)) ? true : undefined;
      }, 60_000, `${victim} to catch up with the content stream`);
    }
    assert.notEqual(killed[0], killed[1], 'two different servers were killed');
    const afterFailovers = Date.now();

    for (const task of tasks) {
      const done = await platform.waitForTask(task.taskId, ['completed'], 300_000);
      assert.equal(done.progress.done, done.progress.total, `${task.taskId} progress`);
    }
    const [{ items, concepts, completed }] = await platform.query(
      `SELECT (SELECT count(*)::int FROM content_items) AS items, (SELECT count(*)::int FROM concepts) AS concepts,
              (SELECT count(*)::int FROM content_items WHERE status = 'completed') AS completed`,
    );
    assert.equal(items, concepts * 3, 'one item per concept and kind, none twice');
    assert.equal(completed, items, 'every item completed');

    // Every "generated" entry reaches PostgreSQL once: one per item, none twice.
    await eventually(async () => {
      const info = await messaging.jsm.consumers.info(messaging.streamName('LOGS'), 'log-sink');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 60_000, 'the log sink to drain');
    const [logs] = await platform.query(
      `SELECT count(*)::int AS n, count(DISTINCT (task_id, step, data->>'conceptId'))::int AS d FROM execution_logs WHERE message LIKE '% generated'`,
    );
    assert.equal(logs.n, logs.d, 'no "generated" entry stored twice');
    assert.equal(logs.n, items, 'a "generated" entry for every item');

    // The shared limits and the cache still work: a roadmap for a goal already generated is served
    // from the cache (no call reaches the provider), and the rate counters keep being written.
    const callsBefore = fake.completionRequests.length;
    const again = (await platform.request('POST', '/api/v1/roadmaps', { goal: GOALS[0] })).body;
    await platform.waitForTask(again.taskId, ['completed'], 120_000);
    const newCalls = fake.completionRequests.length - callsBefore;
    const [{ n: repeatItems }] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1`, [again.roadmapId]);
    assert.equal(newCalls, 0, `the repeated roadmap (${repeatItems} items) reached the provider ${newCalls} times instead of its cache`);
    const rate = await new Kvm(messaging.nc).open(messaging.streamName(LLM_BUCKETS.rate));
    const written: number[] = [];
    for await (const key of await rate.keys()) {
      const entry = await rate.get(key);
      if (entry) written.push(entry.created.getTime());
    }
    assert.ok(written.some((t) => t >= afterFailovers), `rate counters written after the failovers (${written.length} keys)`);
    console.log(
      `nats cluster: killed ${killed.join(' then ')}; tasks expected ${tasks.length}, completed ${tasks.length}; items expected ${concepts * 3}, found ${items}; "generated" entries ${logs.n} (distinct ${logs.d}); provider calls ${callsBefore}, repeated roadmap ${newCalls}`,
    );
  });
});
