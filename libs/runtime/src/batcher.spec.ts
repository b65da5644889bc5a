import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { registry } from '@roadmap/observability';
import { Batcher, KeyedBatcher } from './batcher.js';

describe(Batcher.name, () => {
  it('answers inputs of the same turn with one call, each by position', async () => {
    const calls: number[][] = [];
    const sut = new Batcher<number, number>(async (inputs) => {
      calls.push(inputs);
      return inputs.map((n) => n * 10);
    });
    const results = await Promise.all([1, 2, 3].map((n) => sut.submit(n)));
    assert.deepEqual(results, [10, 20, 30]);
    assert.deepEqual(calls, [[1, 2, 3]]);
  });

  it('holds new inputs while maxInFlight calls run, then sends them together', async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sut = new Batcher<number, number>(
      async (inputs) => {
        calls.push(inputs);
        if (calls.length === 1) await gate;
        return inputs;
      },
      { maxInFlight: 1 },
    );
    const first = sut.submit(1);
    // The first call is running (waited for, not timed: on a loaded machine 5 ms can pass before it starts).
    while (calls.length === 0) await sleep(1);
    const later = [2, 3, 4].map((n) => sut.submit(n));
    await sleep(5);
    assert.deepEqual(calls, [[1]], 'nothing else is sent while the first call runs');
    release();
    assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3, 4]);
    assert.deepEqual(calls, [[1], [2, 3, 4]]);
  });

  it('splits at maxBatch', async () => {
    const sizes: number[] = [];
    const sut = new Batcher<number, number>(
      async (inputs) => {
        sizes.push(inputs.length);
        return inputs;
      },
      { maxBatch: 2, maxInFlight: 4 },
    );
    await Promise.all([1, 2, 3, 4, 5].map((n) => sut.submit(n)));
    assert.deepEqual(sizes, [2, 2, 1]);
  });

  it('rejects every input of a failed call, and keeps working after it', async () => {
    let fail = true;
    const sut = new Batcher<number, number>(async (inputs) => {
      if (fail) throw new Error('connection lost');
      return inputs;
    });
    const results = await Promise.allSettled([sut.submit(1), sut.submit(2)]);
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && (r.reason as Error).message),
      ['connection lost', 'connection lost'],
    );
    fail = false;
    assert.equal(await sut.submit(3), 3);
  });

  it('counts the inputs of each batch under its name', async () => {
    const sut = new Batcher<number, number>(async (inputs) => inputs, { name: 'spec_probe' });
    await Promise.all([1, 2, 3].map((n) => sut.submit(n)));
    await sut.submit(4);
    const text = await registry.getSingleMetricAsString('roadmap_batch_size');
    assert.match(text, /roadmap_batch_size_sum\{batcher="spec_probe"\} 4\b/);
    assert.match(text, /roadmap_batch_size_count\{batcher="spec_probe"\} 2\b/);
  });

  it('rejects a call that answers with the wrong number of results', async () => {
    const sut = new Batcher<number, number>(async () => [1]);
    await assert.rejects(Promise.all([sut.submit(1), sut.submit(2)]), /batch of 2 answered with 1 results/);
  });
});

describe(KeyedBatcher.name, () => {
  it('never mixes keys in one call, and forgets a key once idle', async () => {
    const calls: Array<[string, number[]]> = [];
    const sut = new KeyedBatcher<number, string>(async (key, inputs) => {
      calls.push([key, inputs]);
      return inputs.map((n) => `${key}${n}`);
    });
    const results = await Promise.all([sut.submit('a', 1), sut.submit('b', 2), sut.submit('a', 3)]);
    assert.deepEqual(results, ['a1', 'b2', 'a3']);
    assert.deepEqual(
      calls.sort((x, y) => x[0].localeCompare(y[0])),
      [
        ['a', [1, 3]],
        ['b', [2]],
      ],
    );
    assert.equal(sut.activeKeys, 0);
  });
});
