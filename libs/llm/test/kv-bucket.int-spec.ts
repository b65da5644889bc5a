/*
 * The LLM layer only looks its KV buckets up (provisioning creates them): against the real
 * nats-server (NATS_URL), in a namespace of this run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { LLM_BUCKETS } from '@roadmap/llm';
import { deprovision, kvStreamName, Messaging, openBucket, provision } from '@roadmap/messaging';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

describe('openBucket', () => {
  let messaging: Messaging;
  const namespace = `kvb${randomBytes(4).toString('hex')}`;

  before(async () => {
    messaging = await Messaging.connect({ servers: NATS_URL, namespace, name: 'llm-kv-bucket-test' });
  });
  after(async () => {
    await deprovision(messaging).catch(() => undefined);
    await messaging?.close();
  });

  it('refuses a bucket provisioning has not created, and creates none itself', async () => {
    await assert.rejects(openBucket(messaging, LLM_BUCKETS.cache), /KV bucket .*_LLM_CACHE is not provisioned: run `npm run provision`/);
    await assert.rejects(messaging.jsm.streams.info(kvStreamName(messaging.streamName(LLM_BUCKETS.cache))), /stream not found/);
  });

  it('uses a provisioned bucket, and warns when it was sized for other settings', async () => {
    await provision(messaging);
    const warnings: string[] = [];
    const rate = await openBucket(messaging, LLM_BUCKETS.rate, { maxAgeMs: 300_000, warn: (m) => warnings.push(m) });
    const revision = await rate.create('k', 'v1');
    assert.ok(revision);
    assert.equal(await rate.create('k', 'v2'), undefined, 'compare-and-set: the key exists');
    assert.deepEqual(await rate.get('k'), { value: 'v1', revision });
    assert.equal(warnings.length, 0, warnings.join('; '));
    await openBucket(messaging, LLM_BUCKETS.cache, { maxAgeMs: 60_000, warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /keeps values 86400000 ms, this process expects 60000 ms/);
  });
});
