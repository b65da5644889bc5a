import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from './rate-limiter.js';

describe(RateLimiter.name, () => {
  it('allows a burst of the limit, then says how long until the next token, refilled over the minute', () => {
    let now = 1_000_000;
    const sut = new RateLimiter(3, () => now);
    assert.deepEqual([sut.take('a'), sut.take('a'), sut.take('a')], [0, 0, 0]);
    assert.equal(sut.take('a'), 20_000, 'one token every 20 s at 3 per minute');
    assert.equal(sut.take('b'), 0, 'another caller has its own bucket');
    now += 10_000;
    assert.equal(sut.take('a'), 10_000);
    now += 10_000;
    assert.equal(sut.take('a'), 0);
  });

  it('is off at 0', () => {
    const sut = new RateLimiter(0);
    for (let i = 0; i < 100; i++) assert.equal(sut.take('a'), 0);
  });
});
