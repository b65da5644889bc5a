import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@roadmap/contracts';
import { MemoryKvStore } from '@roadmap/messaging';
import { RateLimiter, waitFor } from './rate-limiter.js';

const scope = (rpm: number, tpm = 0) => ({ provider: 'openai', model: 'gpt-test', rpm, tpm });

describe('waitFor (sliding-window counter)', () => {
  it('admits while previous × (1 − elapsed) + current + cost fits the limit', () => {
    assert.equal(waitFor(10, 0, 9, 1, 0.5, 1000), 0);
    assert.equal(waitFor(10, 10, 4, 1, 0.5, 1000), 0, '10 × 0.5 + 4 + 1 = 10');
    assert.equal(waitFor(0, 99, 99, 1, 0, 1000), 0, 'a limit of 0 is unlimited');
  });

  it('waits for the next window when the current one alone is full', () => {
    assert.equal(waitFor(10, 0, 10, 1, 0.25, 1000), 750);
  });

  it('waits until the previous window has decayed enough', () => {
    // previous 10, current 5, limit 10: need 10 × (1 − f) ≤ 4, f ≥ 0.6; at 0.5 that is 100 ms away.
    assert.equal(waitFor(10, 10, 5, 1, 0.5, 1000), 100);
  });
});

describe(RateLimiter.name, () => {
  it('admits exactly the limit per window, then makes the next caller wait for the window to turn', async () => {
    let now = 10_000; // the start of window 10 (1 s windows)
    const store = new MemoryKvStore();
    const sut = new RateLimiter(async () => store, { windowMs: 1000, maxWaitMs: 0, now: () => now });
    for (let i = 0; i < 5; i++) await sut.acquire(scope(5), 10);
    await assert.rejects(sut.acquire(scope(5), 10), (error: unknown) => {
      assert.ok(error instanceof AppError && error.code === 'LLM_RATE_LIMITED' && error.retryable);
      return true;
    });
    // Next window: the previous one still weighs 5 × (1 − 0.5) = 2.5, so 2 more fit at its middle.
    now = 11_500;
    await sut.acquire(scope(5), 10);
    await sut.acquire(scope(5), 10);
    await assert.rejects(sut.acquire(scope(5), 10), /No LLM budget/);
  });

  it('limits tokens by estimate and takes the correction with the real usage', async () => {
    const now = 20_000;
    const store = new MemoryKvStore();
    const sut = new RateLimiter(async () => store, { windowMs: 1000, maxWaitMs: 0, now: () => now });
    const first = await sut.acquire(scope(0, 100), 40);
    await sut.acquire(scope(0, 100), 40);
    await assert.rejects(sut.acquire(scope(0, 100), 40), /No LLM budget/);
    // The first call used only 10 tokens: 30 come back.
    await sut.reconcile(first, { tokens: 10 - 40 });
    await sut.acquire(scope(0, 100), 40);
  });

  it('lets one oversized prompt through an empty window instead of refusing it forever', async () => {
    const sut = new RateLimiter(async () => new MemoryKvStore(), { windowMs: 1000, maxWaitMs: 0, now: () => 30_000 });
    await sut.acquire(scope(0, 100), 5_000);
  });

  it('waits for its budget when allowed to, and is cancelled by the signal', async () => {
    const store = new MemoryKvStore();
    const sut = new RateLimiter(async () => store, { windowMs: 200, maxWaitMs: 5_000 });
    await sut.acquire(scope(1), 1);
    const controller = new AbortController();
    const waiting = sut.acquire(scope(1), 1, controller.signal);
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await assert.rejects(waiting, /stop/);
  });

  it('honours a hold (a provider’s Retry-After) for every caller of the scope', async () => {
    let now = 40_000;
    const store = new MemoryKvStore();
    const sut = new RateLimiter(async () => store, { windowMs: 1000, maxWaitMs: 100, now: () => now });
    await sut.hold(scope(100), now + 5_000);
    await assert.rejects(sut.acquire(scope(100), 1), /No LLM budget/);
    now += 5_001;
    await sut.acquire(scope(100), 1);
  });
});
