import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKvStore, type KvStore } from '@roadmap/messaging';
import { LEASE_TTL_MS, leaseSize, RateLimiter } from './rate-limiter.js';

/** A store that counts its round trips, so a test can see the lease save them. */
function counted(store: KvStore): { store: KvStore; trips: () => number } {
  let trips = 0;
  const count = <T>(value: Promise<T>) => {
    trips += 1;
    return value;
  };
  return {
    store: {
      get: (k) => count(store.get(k)),
      create: (k, v) => count(store.create(k, v)),
      update: (k, v, r) => count(store.update(k, v, r)),
      put: (k, v) => count(store.put(k, v)),
      delete: (k) => count(store.delete(k)),
    },
    trips: () => trips,
  };
}

const takeMany = (sut: RateLimiter, owner: string, n: number) => Promise.all(Array.from({ length: n }, () => sut.take(owner)));

describe(RateLimiter.name, () => {
  it('allows a burst of the limit, then says how long until the next token, refilled over the minute', async () => {
    let now = 1_000_000;
    const store = new MemoryKvStore();
    const sut = new RateLimiter(async () => store, 3, () => now);
    assert.deepEqual([await sut.take('a'), await sut.take('a'), await sut.take('a')], [0, 0, 0]);
    assert.equal(await sut.take('a'), 20_000, 'one token every 20 s at 3 per minute');
    assert.equal(await sut.take('b'), 0, 'another caller has its own bucket');
    now += 10_000;
    assert.equal(await sut.take('a'), 10_000);
    now += 10_000;
    assert.equal(await sut.take('a'), 0);
  });

  it('is one limit for every replica sharing the store: the total accepted is the limit, not twice it', async () => {
    const now = 5_000_000;
    const store = new MemoryKvStore();
    const perMinute = 1_200; // leases of 2 tokens
    const replicas = [new RateLimiter(async () => store, perMinute, () => now), new RateLimiter(async () => store, perMinute, () => now)];
    const results = await Promise.all(replicas.map((sut) => takeMany(sut, 'a', perMinute)));
    const accepted = results.flat().filter((wait) => wait === 0).length;
    assert.equal(accepted, perMinute);
    assert.ok(results.every((r) => r.some((wait) => wait === 0)), 'both replicas took part');
    assert.ok(results.flat().filter((wait) => wait > 0).every((wait) => wait === 50), 'the refused are told when the next token is due (50 ms at 20/s)');
  });

  it('spends a lease locally (one store round trip per lease, not per request) and gives back what a replica did not spend', async () => {
    let now = 0;
    const shared = new MemoryKvStore();
    const { store, trips } = counted(shared);
    const perMinute = 60_000; // leases of 100 tokens, 1 token per ms
    assert.equal(leaseSize(perMinute), 100);
    await shared.put('api.a', JSON.stringify({ tokens: 150, at: 0 }));
    const sut = new RateLimiter(async () => store, perMinute, () => now);
    for (let i = 0; i < 120; i++) assert.equal(await sut.take('a'), 0);
    assert.equal(trips(), 2 * 2, 'two leases (100, then the 50 left), a read and a write each');

    // 30 tokens unspent; past the lease's life they go back to the bucket with the next lease.
    now += LEASE_TTL_MS + 1;
    assert.equal(await sut.take('a'), 0);
    const bucket = JSON.parse((await shared.get('api.a'))!.value) as { tokens: number };
    assert.equal(bucket.tokens, 0 + 1_001 + 30 - 100, 'refilled 1 001, 30 given back, 100 leased again');
  });

  it('asks the store nothing more while the bucket is known empty', async () => {
    let now = 0;
    const { store, trips } = counted(new MemoryKvStore());
    const sut = new RateLimiter(async () => store, 2, () => now);
    await sut.take('a');
    await sut.take('a');
    const before = trips();
    for (let i = 0; i < 50; i++) assert.ok((await sut.take('a')) > 0);
    assert.equal(trips() - before, 2, 'one look at the empty bucket, then refused from memory');
    now += 30_000;
    assert.equal(await sut.take('a'), 0, 'a token again after 30 s at 2 per minute');
  });

  it('answers 503 when the shared bucket cannot be reached', async () => {
    const sut = new RateLimiter(async () => Promise.reject(new Error('no NATS')), 10);
    await assert.rejects(sut.take('a'), (error: Error & { code?: string }) => error.code === 'SERVICE_UNAVAILABLE');
  });

  it('is off at 0', async () => {
    const sut = new RateLimiter(async () => assert.fail('an unlimited limiter never opens the store'), 0);
    for (let i = 0; i < 100; i++) assert.equal(await sut.take('a'), 0);
  });
});
