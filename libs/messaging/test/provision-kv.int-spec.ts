/*
 * Provisioning of the KV buckets and of the operator's stream limits, against the real nats-server
 * (NATS_URL). Everything lives in a namespace of this run and is deleted at the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STREAMS } from '@roadmap/contracts';
import { API_RATE_BUCKET, assertProvisioned, CONTROL_BUCKET, deprovision, kvBuckets, kvStreamName, LLM_BUCKET_NAMES, Messaging, provision } from '@roadmap/messaging';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `kv${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const MS = 1e6; // nanoseconds

describe('provisioning KV buckets and stream limits', () => {
  let messaging: Messaging;
  const bucketStream = (logical: string) => kvStreamName(messaging.streamName(logical));
  const info = (stream: string) => messaging.jsm.streams.info(stream);

  before(async () => {
    messaging = await Messaging.connect({ servers: NATS_URL, namespace: NAMESPACE, name: 'provision-kv-test' });
  });
  after(async () => {
    await deprovision(messaging).catch(() => undefined);
    await messaging?.close();
  });

  it('creates every bucket sized by the LLM settings, at the stream replicas, and is idempotent', async () => {
    const first = await provision(messaging, { kv: { rateWindowMs: 200_000, cacheTtlSeconds: 3_600 } });
    const buckets = first.entries.filter((e) => e.kind === 'bucket');
    assert.deepEqual(
      buckets.map((e) => `${e.action} ${e.name}`).sort(),
      [...Object.values(LLM_BUCKET_NAMES), API_RATE_BUCKET, CONTROL_BUCKET].map((n) => `created ${messaging.streamName(n)}`).sort(),
    );
    const rate = await info(bucketStream(LLM_BUCKET_NAMES.rate));
    assert.equal(rate.config.max_age, 600_000 * MS, 'three rate windows');
    assert.equal(rate.config.max_msgs_per_subject, 1, 'one value per key');
    assert.equal(rate.config.num_replicas, 1);
    const cache = await info(bucketStream(LLM_BUCKET_NAMES.cache));
    assert.equal(cache.config.max_age, 3_600_000 * MS);
    assert.equal(cache.config.max_msg_size, 512 * 1024);
    assert.equal((await info(bucketStream(LLM_BUCKET_NAMES.owners))).config.max_age, 3_600_000 * MS);
    await assertProvisioned(messaging);

    const second = await provision(messaging, { kv: { rateWindowMs: 200_000, cacheTtlSeconds: 3_600 } });
    assert.deepEqual(second.created, []);
    assert.deepEqual(second.updated, []);

    // Other settings: the buckets follow, in place (values kept).
    const third = await provision(messaging, { kv: { cacheTtlSeconds: 60 } });
    assert.deepEqual([...third.updated].sort(), [messaging.streamName(LLM_BUCKET_NAMES.rate), messaging.streamName(LLM_BUCKET_NAMES.cache)].sort());
    assert.equal((await info(bucketStream(LLM_BUCKET_NAMES.cache))).config.max_age, 60_000 * MS);
    assert.equal((await info(bucketStream(LLM_BUCKET_NAMES.rate))).config.max_age, 300_000 * MS, 'at least five minutes');
  });

  it('applies per-stream max_bytes and max_age, and a full work queue refuses new work instead of dropping queued work', async () => {
    const report = await provision(messaging, {
      streamLimits: { LOGS: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 7 * 86_400_000 }, EVENTS: { maxBytes: 32 * 1024 * 1024 } },
    });
    const updatedStreams = report.entries.filter((e) => e.kind === 'stream' && e.action === 'updated').map((e) => e.name);
    assert.deepEqual(updatedStreams.sort(), [messaging.streamName('EVENTS'), messaging.streamName('LOGS')].sort());
    const logs = await info(messaging.streamName('LOGS'));
    assert.equal(logs.config.max_bytes, 64 * 1024 * 1024);
    assert.equal(logs.config.max_age, 7 * 86_400_000 * MS);
    assert.equal(logs.config.discard, 'new', 'work queue: refuse, never drop');
    const events = await info(messaging.streamName('EVENTS'));
    assert.equal(events.config.max_bytes, 32 * 1024 * 1024);
    assert.equal(events.config.max_age, STREAMS.EVENTS.maxAgeMs * MS, 'the declared age when no limit is given');
    assert.equal(events.config.discard, 'old', 'history: the oldest go');
    // Without limits again: back to the declarations.
    await provision(messaging);
    assert.equal((await info(messaging.streamName('LOGS'))).config.max_bytes, -1);
    await assert.rejects(provision(messaging, { streamLimits: { NOPE: { maxBytes: 1 } } }), /unknown streams: NOPE/);
  });

  it('services are not ready without a bucket: assertProvisioned names it', async () => {
    await messaging.jsm.streams.delete(bucketStream(LLM_BUCKET_NAMES.owners));
    await assert.rejects(assertProvisioned(messaging), (err: Error) => err.message.includes(`KV bucket ${messaging.streamName(LLM_BUCKET_NAMES.owners)}`));
    const again = await provision(messaging);
    assert.deepEqual(again.created, [messaging.streamName(LLM_BUCKET_NAMES.owners)]);
    await assertProvisioned(messaging);
    assert.deepEqual(kvBuckets().map((b) => b.name).sort(), [...Object.values(LLM_BUCKET_NAMES), API_RATE_BUCKET, CONTROL_BUCKET].sort(), 'the LLM buckets, the API rate limit and the operator controls');
  });
});
