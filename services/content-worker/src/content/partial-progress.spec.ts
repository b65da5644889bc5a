import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARTIAL_EXCERPT_CHARS } from '@roadmap/contracts';
import { PartialProgress, type PartialSnapshot } from './partial-progress.js';

describe(PartialProgress.name, () => {
  it('publishes the first partial and then at most one per interval, in order', async () => {
    let clock = 0;
    const published: PartialSnapshot[] = [];
    const sut = new PartialProgress(async (s) => void published.push(s), 500, () => clock);
    for (let i = 1; i <= 30; i++) {
      clock = i * 100; // a partial every 100 ms for 3 s
      sut.onPartial({ text: 'x'.repeat(i * 10), outputTokens: i * 3 });
    }
    await sut.settled();
    assert.deepEqual(
      published.map((p) => p.chars),
      [10, 60, 110, 160, 210, 260],
    );
    assert.deepEqual(published.map((p) => p.outputTokens), [3, 18, 33, 48, 63, 78]);
  });

  it('carries only the tail of the text, bounded', async () => {
    const published: PartialSnapshot[] = [];
    const sut = new PartialProgress(async (s) => void published.push(s));
    sut.onPartial({ text: `${'a'.repeat(5_000)}THE END`, outputTokens: 1_250 });
    await sut.settled();
    assert.equal(published[0]?.chars, 5_007);
    assert.equal(published[0]?.excerpt.length, PARTIAL_EXCERPT_CHARS);
    assert.ok(published[0]?.excerpt.endsWith('THE END'));
  });

  it('keeps going after a failed publish, and settles', async () => {
    let clock = 0;
    let calls = 0;
    const sut = new PartialProgress(async () => {
      calls += 1;
      if (calls === 1) throw new Error('NATS away');
    }, 500, () => clock);
    sut.onPartial({ text: 'a', outputTokens: 1 });
    clock = 600;
    sut.onPartial({ text: 'ab', outputTokens: 1 });
    await sut.settled();
    assert.equal(calls, 2);
  });
});
