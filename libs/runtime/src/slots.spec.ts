import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Slots } from './slots.js';

describe(Slots.name, () => {
  it('holds at most `size` at once and serves waiters in arrival order', async () => {
    const sut = new Slots(2);
    const first = await sut.acquire();
    const second = await sut.acquire();
    const order: string[] = [];
    const third = sut.acquire().then((release) => (order.push('third'), release));
    const fourth = sut.acquire().then((release) => (order.push('fourth'), release));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual({ inUse: sut.inUse, queued: sut.queued, order }, { inUse: 2, queued: 2, order: [] });
    first();
    first(); // a second call releases nothing more
    await third;
    assert.deepEqual({ inUse: sut.inUse, queued: sut.queued, order }, { inUse: 2, queued: 1, order: ['third'] });
    second();
    (await fourth)();
    (await third)();
    assert.deepEqual({ inUse: sut.inUse, queued: sut.queued, order }, { inUse: 0, queued: 0, order: ['third', 'fourth'] });
  });

  it('gives up a wait when its signal aborts, without taking a slot', async () => {
    const sut = new Slots(1);
    const held = await sut.acquire();
    const controller = new AbortController();
    const waiting = sut.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    assert.equal(sut.queued, 0);
    held();
    assert.equal(sut.inUse, 0);
    await assert.rejects(sut.acquire(controller.signal), /cancelled/, 'an aborted signal never waits');
  });
});
