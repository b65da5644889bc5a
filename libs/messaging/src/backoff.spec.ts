import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RETRY_AFTER_MAX_MS, retryDelayMs } from './backoff.js';

const almostOne = () => 0.999_999;

describe('retryDelayMs', () => {
  it('grows exponentially with the delivery count (upper bound of the jitter)', () => {
    const ceilings = [1, 2, 3, 4, 5].map((n) => retryDelayMs(n, { random: almostOne }));
    assert.deepEqual(ceilings, [999, 1999, 3999, 7999, 15999]);
  });

  it('never exceeds the cap', () => {
    for (const n of [7, 8, 20, 100, 10_000]) {
      const delay = retryDelayMs(n, { random: almostOne });
      assert.ok(delay < 60_000, `delivery ${n}: ${delay}`);
      assert.ok(delay >= 59_000, `delivery ${n} should be near the cap: ${delay}`);
    }
    assert.ok(retryDelayMs(3, { capMs: 2_500, random: almostOne }) < 2_500);
  });

  it('uses full jitter: anywhere from 0 up to the ceiling', () => {
    assert.equal(retryDelayMs(5, { random: () => 0 }), 0);
    assert.equal(retryDelayMs(5, { random: () => 0.5 }), 8_000);
    for (let i = 0; i < 1_000; i++) {
      const delay = retryDelayMs(3);
      assert.ok(delay >= 0 && delay < 4_000, String(delay));
    }
  });

  it('honours retryAfterMs: never sooner than the advised wait', () => {
    assert.equal(retryDelayMs(1, { retryAfterMs: 30_000, random: () => 0.5 }), 30_000);
    // Beyond the cap too: a rate limit that says 90 s means 90 s.
    assert.equal(retryDelayMs(1, { retryAfterMs: 90_000, random: () => 0.5 }), 90_000);
    // The backoff wins when it is the longer wait.
    assert.equal(retryDelayMs(6, { retryAfterMs: 1_000, random: () => 0.5 }), 16_000);
    // A bogus advice is bounded.
    assert.equal(retryDelayMs(1, { retryAfterMs: 1e12 }), RETRY_AFTER_MAX_MS);
    // No advice (or a non-positive one) is plain backoff.
    assert.equal(retryDelayMs(1, { retryAfterMs: 0, random: () => 0.5 }), 500);
  });

  it('treats a delivery count below 1 as the first delivery', () => {
    assert.equal(retryDelayMs(0, { random: almostOne }), 999);
  });
});
