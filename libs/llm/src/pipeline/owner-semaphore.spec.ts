import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKvStore } from '@roadmap/messaging';
import { OwnerSemaphore } from './owner-semaphore.js';

describe(OwnerSemaphore.name, () => {
  it('gives an owner at most `limit` slots; a released slot goes to a waiter; other owners are not held up', async () => {
    const store = new MemoryKvStore();
    const sut = new OwnerSemaphore(async () => store, { limit: 2, leaseMs: 10_000, maxWaitMs: 5_000 });
    const a = await sut.acquire('alice');
    await sut.acquire('alice');
    let third = false;
    const waiting = sut.acquire('alice').then((release) => {
      third = true;
      return release;
    });
    await sut.acquire('bob'); // another owner is not affected
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(third, false, 'a third call of alice waits');
    await a();
    await (await waiting)();
    assert.equal(third, true);
  });

  it('fails with LLM_RATE_LIMITED after the longest wait, and frees the slots of a lease that was not renewed', async () => {
    const store = new MemoryKvStore();
    const sut = new OwnerSemaphore(async () => store, { limit: 1, leaseMs: 1_000, maxWaitMs: 100 });
    await sut.acquire('carol');
    await assert.rejects(sut.acquire('carol'), /already has 1 LLM calls in flight/);
    // A process that died: its lease is still in the store, but expired.
    await store.put('owner.dave', JSON.stringify({ dead: Date.now() - 1 }));
    const release = await sut.acquire('dave');
    await release();
    assert.deepEqual(JSON.parse((await store.get('owner.dave'))!.value), {});
  });

  it('is cancelled while waiting', async () => {
    const store = new MemoryKvStore();
    const sut = new OwnerSemaphore(async () => store, { limit: 1, leaseMs: 10_000, maxWaitMs: 10_000 });
    await sut.acquire('erin');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 30);
    await assert.rejects(sut.acquire('erin', controller.signal), /cancelled/);
  });
});
